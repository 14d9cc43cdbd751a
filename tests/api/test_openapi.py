"""The OpenAPI document, and a bounded property-based run of schemathesis against it."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..webhooks.helpers import existing_ids as existing_webhook_ids
from .helpers import bearer, submitted_id

ENDPOINTS = {
    ("get", "/healthz"), ("get", "/readyz"), ("get", "/v1/guidelines"),
    ("post", "/v1/articles"), ("get", "/v1/articles/{article_id}"),
    ("get", "/v1/articles/{article_id}/comments"), ("post", "/v1/articles/{article_id}/comments"),
    ("post", "/v1/articles/{article_id}/close"), ("post", "/v1/articles/{article_id}/reopen"),
    ("get", "/v1/articles/{article_id}/events"),
    ("get", "/v1/authors/{author_id}"), ("get", "/v1/authors/{author_id}/comments"),
    ("get", "/v1/authors/{author_id}/events"), ("post", "/v1/authors/{author_id}/warnings"),
    ("post", "/v1/authors/{author_id}/suspensions"), ("post", "/v1/authors/{author_id}/bans"),
    ("post", "/v1/authors/{author_id}/sanctions/lift"),
    ("post", "/v1/authors/{author_id}/notes"),
    ("post", "/v1/comments/{comment_id}/reports"),
    ("post", "/v1/comments/{comment_id}/reports/dismiss"),
    ("post", "/v1/decisions"),
    ("get", "/v1/comments"),
    ("get", "/v1/queue"), ("get", "/v1/comments/{comment_id}"),
    ("get", "/v1/comments/{comment_id}/events"), ("post", "/v1/comments/{comment_id}/approve"),
    ("post", "/v1/comments/{comment_id}/reject"),
    ("post", "/v1/comments/{comment_id}/claim"), ("delete", "/v1/comments/{comment_id}/claim"),
    ("get", "/v1/events"), ("get", "/v1/events/stream"),
    ("get", "/v1/audit/decisions"), ("get", "/v1/audit/actions"),
    ("get", "/v1/audit/checkpoints"), ("get", "/v1/audit/proof"),
    ("get", "/v1/audit/consistency"), ("get", "/v1/audit/export"), ("get", "/v1/stats"),
    ("get", "/v1/webhooks/endpoints"), ("post", "/v1/webhooks/endpoints"),
    ("get", "/v1/webhooks/endpoints/{endpoint_id}"),
    ("patch", "/v1/webhooks/endpoints/{endpoint_id}"),
    ("delete", "/v1/webhooks/endpoints/{endpoint_id}"),
    ("post", "/v1/webhooks/endpoints/{endpoint_id}/rotate-secret"),
    ("post", "/v1/webhooks/endpoints/{endpoint_id}/test"),
    ("get", "/v1/webhooks/endpoints/{endpoint_id}/deliveries"),
    ("post", "/v1/webhooks/endpoints/{endpoint_id}/recover"),
    ("get", "/v1/webhooks/deliveries/{delivery_id}"),
    ("post", "/v1/webhooks/deliveries/{delivery_id}/redeliver"),
    ("post", "/v1/authors/lookup"), ("get", "/v1/authors/{author_id}/export"),
    ("post", "/v1/authors/{author_id}/erasure"),
}
PUBLIC = {"/healthz", "/readyz", "/v1/guidelines", "/v1/articles/{article_id}",
          "/v1/articles/{article_id}/comments", "/v1/comments/{comment_id}/reports"}


def test_openapi_document_describes_every_endpoint(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    operations = {(method, path) for path, item in doc["paths"].items()
                  for method in item if method != "parameters"}
    assert operations == ENDPOINTS
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"]}
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"status", "code", "message", "errors", "request_id"}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["summary"], (method, path)
            assert "default" in operation["responses"], (method, path)
            protected = bool(operation.get("security"))
            assert protected == (path not in PUBLIC or method == "post" and path == "/v1/articles")
            if protected:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
    conflict = doc["paths"]["/v1/comments/{comment_id}/approve"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"]["$ref"].endswith(
        "/VersionConflict")


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]



def test_api_conforms_to_its_openapi_document(app, client, tokens, article):
    """Generated requests, valid and invalid, never get a 5xx or an undocumented answer.

    Each operation gets a bounded number of examples (the whole run takes seconds); an
    admin token opens every endpoint. Driven through hypothesis directly rather than
    schemathesis' pytest plugin, which does not support this pytest version.
    """
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(ENDPOINTS)
    comment_id = submitted_id(client, article)
    services = app.extensions["moderation"].services
    known = {"article_id": article, "comment_id": comment_id,
             "author_id": services.queries.comment(comment_id)["author_id"],
             **existing_webhook_ids(services)}
    for operation in operations:
        if operation.path == "/v1/events/stream":
            continue  # answers for minutes by design; tests/api/test_event_stream.py covers it
        names = {p.name for p in operation.path_parameters}
        runs = [(GenerationMode.POSITIVE, 20, None), (GenerationMode.NEGATIVE, 10, None)]
        if names:  # and with ids that exist, so the happy paths are exercised too
            runs.append((GenerationMode.POSITIVE, 20, {n: known[n] for n in names}))
        for mode, examples, path in runs:
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def conforms(case):
                response = case.call(headers=bearer(tokens.admin))
                case.validate_response(response, checks=CHECKS)

            try:
                conforms()
            except Unsatisfiable:  # nothing to get wrong: no parameters and no body
                assert mode is GenerationMode.NEGATIVE, operation.label
