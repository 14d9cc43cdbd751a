"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.bootstrap import Services

ERROR_KEYS = {"status", "code", "message", "errors", "request_id"}


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """The response is our error format with this status and code; returns the body."""
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= ERROR_KEYS, body
    assert body["status"] == status
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    for field, messages in body["errors"].items():
        assert isinstance(field, str)
        assert messages and all(isinstance(m, str) for m in messages)
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def head(services: Services) -> int:
    return services.queries.head()


def submit(client: FlaskClient, article_id: str, body: str = "A fair point.",
           name: str = "Reader", email: str | None = None, **extra: Any) -> TestResponse:
    payload: dict[str, Any] = {"author": {"name": name}, "body": body}
    if email is not None:
        payload["author"]["email"] = email
    headers = extra.pop("headers", {})
    payload.update(extra)
    return client.post(f"/v1/articles/{article_id}/comments", json=payload, headers=headers)


def submitted_id(client: FlaskClient, article_id: str, **kwargs: Any) -> str:
    response = submit(client, article_id, **kwargs)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def version_of(client: FlaskClient, token: str, comment_id: str) -> int:
    response = client.get(f"/v1/comments/{comment_id}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["version"]


def approve(client: FlaskClient, token: str, comment_id: str, note: str | None = None,
            version: int | None = None) -> TestResponse:
    version = version if version is not None else version_of(client, token, comment_id)
    body = {"note": note} if note is not None else {}
    return client.post(f"/v1/comments/{comment_id}/approve", json=body,
                       headers=bearer(token, **{"If-Match": f'"{version}"'}))


def reject(client: FlaskClient, token: str, comment_id: str, reasons: list[str],
           note: str | None = None, version: int | None = None) -> TestResponse:
    version = version if version is not None else version_of(client, token, comment_id)
    body: dict[str, Any] = {"reasons": reasons}
    if note is not None:
        body["note"] = note
    return client.post(f"/v1/comments/{comment_id}/reject", json=body,
                       headers=bearer(token, **{"If-Match": f'"{version}"'}))
