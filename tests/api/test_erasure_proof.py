"""Proof that an erasure leaves no trace: the database's bytes are scanned, not the API.

Comments carry unique markers in the author's name, e-mail, text (with an e-mail address
in it, so screening quotes it) and network address; some are decided, webhooks deliver
them, then the author is erased. Before the erasure, plaintext may only be in the read
models the erasure purges (never the log, idempotency records, outbox or delivery log);
after it, no marker is anywhere: not in any table, not in the SQLite file after a
checkpoint and VACUUM, not in a `pg_dump`, in plain or JSON-escaped form.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from service.application.idempotency import request_fingerprint
from service.cli import main
from service.webhooks.admin import Webhooks

from ..webhooks.receivers import Receiver
from .helpers import approve, bearer, reject

NAME = "Rûnak q7x9zrname"
EMAIL = "rûnak.q7x9zrmail@example.org"
QUOTED = "q7x9zrquote@example.net"
BODY = f"Ŝtrange days q7x9zrbody, write to {QUOTED}"
ADDRESS = "203.0.113.197"
TEXTS = ("q7x9zr", "Rûnak", "rûnak", "Ŝtrange", ADDRESS, QUOTED)
# the tables where plaintext may sit before an erasure (it purges them)
READ_MODELS = {"comment_state", "public_comments", "comment_search"}  # search: folded text
# SQLite's text index: the FTS5 table and its shadow tables (its copy of the text, and the
# index segments, which hold the words themselves)
FTS_TABLES = {"comment_search_fts", "comment_search_fts_content", "comment_search_fts_data"}


def encodings(text: str) -> set[bytes]:
    """Every form our code writes text in: UTF-8, and JSON with escapes either case."""
    escaped = json.dumps(text)[1:-1]
    return {text.encode(), escaped.encode(), escaped.lower().encode(),
            escaped.upper().replace("\\U", "\\u").encode()}


MARKERS = {form for text in TEXTS for form in encodings(text)}


def found_in(data: bytes) -> set[bytes]:
    return {m for m in MARKERS if m in data}


def table_bytes(services) -> dict[str, bytes]:  # noqa: ANN001
    """Every row of every table, each value as the bytes the driver hands back."""
    out = {}
    with services.engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            chunks = []
            for row in conn.execute(sa.select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        chunks.append(bytes(value))
                    elif isinstance(value, dict | list):
                        chunks.append(json.dumps(value, ensure_ascii=False).encode())
                        chunks.append(json.dumps(value).encode())
                    else:
                        chunks.append(str(value).encode())
            out[name] = b"\x00".join(chunks)
    return out


def leaks(services) -> dict[str, set[bytes]]:  # noqa: ANN001
    return {name: hits for name, data in table_bytes(services).items()
            if (hits := found_in(data))}


def database_file_bytes(services) -> bytes:  # noqa: ANN001
    url = sa.make_url(services.settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        services.engine.dispose()  # no pooled connection holds a snapshot
        conn = sqlite3.connect(path, isolation_level=None)  # autocommit: VACUUM runs
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"))
                        if p.exists())
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    assert os.path.exists(pg_dump), "pg_dump is needed for the PostgreSQL byte scan"
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run([pg_dump, "--no-owner", plain], check=True,
                          capture_output=True, timeout=120).stdout


def _submit(client, article, body, key):  # noqa: ANN001
    response = client.post(f"/v1/articles/{article}/comments",
                           json={"author": {"name": NAME, "email": EMAIL}, "body": body},
                           headers={"Idempotency-Key": key},
                           environ_base={"REMOTE_ADDR": ADDRESS})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def hooks(services, api_settings, clock) -> Webhooks:  # noqa: ANN001
    return Webhooks(services.engine, replace(api_settings, webhook_allow_loopback=True,
                                             webhook_timeout_seconds=2.0),
                    clock, services.store, services.codec_for,
                    unit_of_work=services.moderation.unit_of_work)


@pytest.fixture
def receiver():  # noqa: ANN201
    r = Receiver()
    yield r
    r.close()


def test_an_erased_author_leaves_no_byte_behind(client, tokens, article, services, hooks,
                                               receiver, clock):
    endpoint, secret = hooks.create_endpoint(receiver.url, include_body=True)
    receiver.secrets.append(secret)
    ids = [_submit(client, article, BODY, "k-1"),
           _submit(client, article, "Second q7x9zrbody text", "k-2"),
           _submit(client, article, "Third, Ŝtrange and pending", "k-3")]
    assert _submit(client, article, BODY, "k-1") == ids[0]  # a retry: replayed
    clock.advance(seconds=5)
    assert approve(client, tokens.moderator, ids[0]).status_code == 200
    assert reject(client, tokens.moderator, ids[1], ["off_topic"],
                  note="Not about the article").status_code == 200
    hooks.dispatcher().run(once=True, concurrency=2)
    assert len(receiver.received) == 8  # 3 submitted, 3 screened, 2 decisions

    before = leaks(services)
    read_models = READ_MODELS | (FTS_TABLES if services.engine.dialect.name == "sqlite"
                                 else set())
    assert set(before) <= read_models, {k: v for k, v in before.items()
                                        if k not in read_models}
    assert set(before) == read_models  # the scan does see plaintext where it is
    unkeyed = request_fingerprint({"article_id": article, "author_name": NAME,
                                   "author_email": EMAIL, "body": BODY, "parent_id": None})
    assert unkeyed.encode() not in table_bytes(services)["idempotency_keys"]  # keyed only
    in_read_models = {m.encode() for m in TEXTS if m != ADDRESS}  # addresses: sealed only
    assert in_read_models <= found_in(database_file_bytes(services))
    admin = bearer(tokens.admin)
    author_id = client.post("/v1/authors/lookup", json={"email": EMAIL},
                            headers=admin).get_json()["author_id"]
    export = client.get(f"/v1/authors/{author_id}/export", headers=admin)
    assert {text.encode() for text in TEXTS} <= found_in(export.get_data())

    erased = client.post(f"/v1/authors/{author_id}/erasure", json={"note": "ticket 4411"},
                         headers=admin)
    assert erased.status_code == 200, erased.get_json()
    hooks.dispatcher().run(once=True, concurrency=2)
    [notice] = [r for r in receiver.received if r.payload["type"] == "author.erased"]
    assert notice.verified_with == [0], notice.error  # signed with the endpoint's secret
    assert notice.payload["data"]["author_id"] == author_id
    assert sorted(notice.payload["data"]["comment_ids"]) == sorted(ids)

    export = client.get(f"/v1/authors/{author_id}/export", headers=admin)
    assert found_in(export.get_data()) == set()
    statuses = {c["comment_id"]: c["status"] for c in export.get_json()["comments"]}
    assert statuses == dict(zip(ids, ["approved", "rejected", "pending"], strict=True))
    assert leaks(services) == {}
    assert found_in(database_file_bytes(services)) == set()

    verify = CliRunner().invoke(main, ["projections", "rebuild", "--verify"],
                                env={"DATABASE_URL": services.settings.database_url})
    assert verify.exit_code == 0, verify.output
    assert leaks(services) == {}
