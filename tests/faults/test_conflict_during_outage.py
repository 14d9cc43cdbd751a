"""The database failing while a 409 version conflict is being answered is a 503, not a 500.

Found by the PostgreSQL restart test: a decision on a stale version was refused, then the
database went down while the error handler read the comment's current state for the 409;
Flask does not pass an error raised inside an error handler back to the handlers, so the
client got a 500. This reproduces that moment without a restart (fast, deterministic).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import exc as sa_exc

from service.app import create_app
from service.application.commands import Actor, Context, RegisterArticle
from service.db import write_transaction
from service.identity import tokens as api_tokens
from service.projections import comments as comment_state

from .harness import ARTICLE, submission


def test_database_failure_while_answering_a_version_conflict_is_a_503(settings, services,
                                                                       monkeypatch):
    services.moderation.register_article(RegisterArticle(ARTICLE, "Fault tests"),
                                         Context(Actor("setup", "admin")))
    with write_transaction(services.engine) as conn:
        token = api_tokens.create(conn, name="mod-a", role="moderator",
                                  now=services.clock())[1]
    app = create_app(replace(settings, submit_rate_limit="1000/minute"), services)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    submitted = client.post(f"/v1/articles/{ARTICLE}/comments", json=submission("c-1"))
    assert submitted.status_code == 202
    comment = f"/v1/comments/{submitted.json['id']}"
    etag = client.get(comment, headers=auth).headers["ETag"]
    assert client.post(f"{comment}/approve", json={},
                       headers={**auth, "If-Match": etag}).status_code == 200

    stale = client.post(f"{comment}/reject", json={"reasons": ["threats"], "note": "late"},
                        headers={**auth, "If-Match": etag})
    assert stale.status_code == 409 and stale.json["current"]["status"] == "approved"

    def database_gone(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise sa_exc.OperationalError(
            "SELECT ...", {}, Exception("server closed the connection unexpectedly"))

    # the refusal's one read of the winner and the current state meets the outage
    monkeypatch.setattr(comment_state, "get_comment", database_gone)
    during = client.post(f"{comment}/reject", json={"reasons": ["threats"], "note": "late"},
                         headers={**auth, "If-Match": etag})
    assert during.status_code == 503, during.json
    assert during.json["code"] == "service_unavailable"
    assert during.headers["Retry-After"].isdigit()
    assert during.json["request_id"] == during.headers["X-Request-ID"]
    monkeypatch.undo()
    assert client.post(f"{comment}/reject", json={"reasons": ["threats"], "note": "late"},
                       headers={**auth, "If-Match": etag}).status_code == 409
