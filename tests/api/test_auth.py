"""Tokens and roles: 401 without a valid token, 403 with the wrong role, for every endpoint."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from service.cli import main
from service.db import read_transaction, write_transaction
from service.identity import tokens as api_tokens

from .helpers import assert_error, bearer

COMMENT = "0e6c1f0c-8d0e-4f7e-9b7a-3c2d1e0f9a8b"
MODERATORS = {"moderator", "admin"}
AUDITORS = {"auditor", "moderator", "admin"}
PROTECTED = [
    ("GET", "/v1/queue", MODERATORS),
    ("GET", f"/v1/comments/{COMMENT}", MODERATORS),
    ("GET", f"/v1/comments/{COMMENT}/events", MODERATORS),
    ("POST", f"/v1/comments/{COMMENT}/approve", MODERATORS),
    ("POST", f"/v1/comments/{COMMENT}/reject", MODERATORS),
    ("GET", "/v1/events", AUDITORS),
    ("GET", "/v1/audit/decisions", AUDITORS),
    ("GET", "/v1/stats", AUDITORS),
    ("POST", "/v1/articles", {"admin"}),
]


@pytest.mark.parametrize("method,path,roles", PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED])
def test_roles(client, tokens, services, method, path, roles):
    before = services.queries.head()
    response = client.open(path, method=method)
    body = assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in body["message"]
    for header in ("Bearer", "Bearer mod_" + "x" * 43, "Basic dXNlcjpwdw==", "bearer  ",
                   "Token abc"):
        assert_error(client.open(path, method=method, headers={"Authorization": header}),
                     401, "invalid_token")
    for role in ("moderator", "auditor", "admin"):
        response = client.open(path, method=method, headers=bearer(getattr(tokens, role)),
                               json={})
        if role in roles:
            assert response.status_code not in (401, 403), (role, response.get_json())
        else:
            assert_error(response, 403, "forbidden")
    assert services.queries.head() == before


def test_revoked_token_is_refused(client, tokens, services):
    with read_transaction(services.engine) as conn:
        [info] = [t for t in api_tokens.list_tokens(conn) if t.name == "maya"]
    with write_transaction(services.engine) as conn:
        api_tokens.revoke(conn, info.id, now=services.clock())
    assert_error(client.get("/v1/queue", headers=bearer(tokens.moderator)), 401,
                 "invalid_token")
    assert client.get("/v1/queue", headers=bearer(tokens.moderator2)).status_code == 200


def test_only_the_hash_is_stored_and_use_is_recorded(client, tokens, services, clock):
    with read_transaction(services.engine) as conn:
        rows = conn.execute(sa.select(api_tokens.api_tokens)).mappings().all()
    stored = " ".join(str(v) for row in rows for v in row.values())
    assert tokens.moderator not in stored
    digest = hashlib.sha256(tokens.moderator.encode()).hexdigest()
    assert digest in stored
    client.get("/v1/queue", headers=bearer(tokens.moderator))
    with read_transaction(services.engine) as conn:
        info = next(t for t in api_tokens.list_tokens(conn) if t.name == "maya")
    assert info.last_used_at == clock.now
    assert info.hint == tokens.moderator[:8]


def test_token_functions(services):
    now = services.clock()
    with write_transaction(services.engine) as conn:
        info, token = api_tokens.create(conn, name="lena.k", role="auditor", now=now)
        assert token.startswith("aud_") and len(token) == 47
        assert api_tokens.verify(conn, token) == info
        assert api_tokens.verify(conn, token + "x") is None
        assert api_tokens.verify(conn, "aud_" + "A" * 43) is None
        for name, role in (("", "auditor"), ("x y", "auditor"), ("ok", "root")):
            with pytest.raises(api_tokens.TokenError):
                api_tokens.create(conn, name=name, role=role, now=now)
        revoked = api_tokens.revoke(conn, info.id, now=now)
        assert revoked.revoked_at == now and not revoked.active
        assert api_tokens.revoke(conn, info.id, now=now).revoked_at == now
        assert api_tokens.verify(conn, token) is None
        with pytest.raises(api_tokens.TokenError):
            api_tokens.revoke(conn, 9999, now=now)
        assert [t.id for t in api_tokens.list_tokens(conn, include_revoked=False)] == []


def test_tokens_cli(settings, services):
    runner = CliRunner()
    env = {"DATABASE_URL": settings.database_url}
    created = runner.invoke(main, ["tokens", "create", "--name", "dana", "--role", "admin"],
                            env=env)
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("adm_")
    with read_transaction(services.engine) as conn:
        info = api_tokens.verify(conn, token)
    assert info is not None and info.name == "dana" and info.role == "admin"

    listed = runner.invoke(main, ["tokens", "list"], env=env)
    assert listed.exit_code == 0
    assert "dana" in listed.output and token not in listed.output
    assert "active" in listed.output

    revoked = runner.invoke(main, ["tokens", "revoke", str(info.id)], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.output
    assert "dana" not in runner.invoke(main, ["tokens", "list", "--active"], env=env).output
    assert runner.invoke(main, ["tokens", "revoke", "4242"], env=env).exit_code != 0
    bad = runner.invoke(main, ["tokens", "create", "--name", "dana", "--role", "root"], env=env)
    assert bad.exit_code != 0
