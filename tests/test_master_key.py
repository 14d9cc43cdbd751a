"""Keys at rest: subject keys and webhook secrets wrapped by a master key, and its rotation."""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import replace

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from service.application.commands import Actor, Context, RegisterArticle, SubmitComment
from service.bootstrap import build
from service.cli import main
from service.eventstore.master_key import (
    MasterKeyError,
    MasterKeys,
    new_key_text,
    parse_keys,
)
from service.eventstore.tables import subject_keys
from service.webhooks import endpoints

ADMIN = Context(Actor("admin", "admin"))


def _rows(services, table, column):  # noqa: ANN001, ANN202
    with services.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(table.c[column]))]


def _submit(services, n: int) -> list[str]:  # noqa: ANN001
    return [services.moderation.submit_comment(SubmitComment(
        "keys", f"Reader {n}-{i}", f"Text {n}-{i}", f"r{n}-{i}@example.org"), Context()).id
        for i in range(3)]


def test_rotation_keeps_data_readable_retires_the_old_key_and_never_stops(settings, clock):
    old, new = new_key_text(), new_key_text()
    first = build(replace(settings, master_key=old, webhook_allow_loopback=True), clock=clock)
    try:
        first.moderation.register_article(RegisterArticle("keys", "Keys"), ADMIN)
        ids = _submit(first, 0)
        endpoint, secret = first.webhooks.create_endpoint("http://127.0.0.1:9/hook")
        stored = _rows(first, subject_keys, "key")
        assert stored and all(len(k) != 32 for k in stored)  # wrapped, not raw keys
        [stored_secret] = _rows(first, endpoints.webhook_endpoint_secrets, "secret")
        assert stored_secret != secret and secret not in stored_secret
        assert first.queries.comment(ids[0])["body"] == "Text 0-0"
    finally:
        first.close()

    # every process now knows NEW (first, it wraps) and OLD; rotate while they work
    during = build(replace(settings, master_key=f"{new},{old}"), clock=clock)
    answered, failures, stop = [], [], threading.Event()

    def keep_working() -> None:
        n = 1
        while not stop.is_set():
            try:
                answered.extend(_submit(during, n))
                history = during.queries.history(ids[0])
                assert history[0]["data"]["body"] == "Text 0-0"
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)
            n += 1

    worker = threading.Thread(target=keep_working)
    worker.start()
    try:
        result = CliRunner().invoke(main, ["keys", "rotate-master"], env={
            "DATABASE_URL": settings.database_url, "MODERATION_MASTER_KEY": f"{new},{old}"})
    finally:
        stop.set()
        worker.join()
        during.close()
    assert result.exit_code == 0, result.output
    assert "rewrapped" in result.output
    assert failures == [] and answered

    after = build(replace(settings, master_key=new), clock=clock)
    try:
        for comment_id in [*ids, *answered]:
            events = after.queries.history(comment_id)
            assert events[0]["data"]["body"] is not None, comment_id
        with after.engine.connect() as conn:
            assert endpoints.signing_secrets(conn, endpoint.id, clock(), after.master) \
                == [secret]
        only_old = MasterKeys(parse_keys(old))
        for key in _rows(after, subject_keys, "key"):
            with pytest.raises(MasterKeyError):
                only_old.unwrap(key)
        for wrapped in _rows(after, endpoints.webhook_endpoint_secrets, "secret"):
            with pytest.raises(MasterKeyError):
                only_old.unwrap_text(wrapped)
    finally:
        after.close()


def test_keys_written_before_a_master_key_are_wrapped_by_the_first_rotation(settings,
                                                                            services):
    services.moderation.register_article(RegisterArticle("keys", "Keys"), ADMIN)
    ids = _submit(services, 0)
    assert all(len(k) == 32 for k in _rows(services, subject_keys, "key"))  # raw, as before
    key = new_key_text()
    result = CliRunner().invoke(main, ["keys", "rotate-master"], env={
        "DATABASE_URL": settings.database_url, "MODERATION_MASTER_KEY": key})
    assert result.exit_code == 0, result.output
    assert all(len(k) != 32 for k in _rows(services, subject_keys, "key"))
    wrapped = build(replace(settings, master_key=key))
    try:
        assert wrapped.queries.history(ids[0])[0]["data"]["body"] == "Text 0-0"
    finally:
        wrapped.close()


def test_a_key_file_is_created_owner_only_and_rotated_in_place(tmp_path, settings, clock):
    key_file = tmp_path / "keys" / "master"
    key_file.parent.mkdir()
    env = {"DATABASE_URL": settings.database_url, "MODERATION_MASTER_KEY_FILE": str(key_file)}
    created = CliRunner().invoke(main, ["keys", "rotate-master", "--generate"], env=env)
    assert created.exit_code == 0, created.output
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    first = key_file.read_text().strip()
    with_file = build(replace(settings, master_key_file=str(key_file)), clock=clock)
    try:
        with_file.moderation.register_article(RegisterArticle("keys", "Keys"), ADMIN)
        ids = _submit(with_file, 0)
        rotated = CliRunner().invoke(main, ["keys", "rotate-master", "--generate"], env=env)
        assert rotated.exit_code == 0, rotated.output
        second = key_file.read_text().strip()
        assert second != first and "," not in second and "\n" not in second
        # the running process follows the file: it still reads, and wraps with the new key
        assert with_file.queries.history(ids[0])[0]["data"]["body"] == "Text 0-0"
        more = _submit(with_file, 1)
    finally:
        with_file.close()
    fresh = build(replace(settings, master_key_file=str(key_file)), clock=clock)
    try:
        for comment_id in [*ids, *more]:
            assert fresh.queries.history(comment_id)[0]["data"]["body"] is not None
    finally:
        fresh.close()


def test_a_bad_master_key_is_a_configuration_error(settings):
    with pytest.raises(SystemExit, match="MODERATION_MASTER_KEY"):
        build(replace(settings, master_key="not base64!"))
    with pytest.raises(SystemExit, match="32 bytes"):
        build(replace(settings, master_key="c2hvcnQ="))


def test_a_dump_alone_holds_no_usable_key_and_no_webhook_secret(settings, clock):
    import base64

    from .api.test_erasure_proof import database_file_bytes

    master = new_key_text()
    services = build(replace(settings, master_key=master, webhook_allow_loopback=True),
                     clock=clock)
    try:
        services.moderation.register_article(RegisterArticle("keys", "Keys"), ADMIN)
        _submit(services, 0)
        _, secret = services.webhooks.create_endpoint("http://127.0.0.1:9/hook")
        raw_keys = [services.master.unwrap(k) for k in _rows(services, subject_keys, "key")]
        dump = database_file_bytes(services)
    finally:
        services.close()
    assert len(raw_keys) >= 2  # the author's key and the day's address key
    forms = {secret.encode(), secret.removeprefix("whsec_").encode(),
             base64.b64decode(secret.removeprefix("whsec_"))}
    for key in raw_keys:
        forms |= {key, key.hex().encode(), base64.b64encode(key)}
    assert [f for f in forms if f in dump] == []
    assert base64.b64decode(master) not in dump and master.encode() not in dump
