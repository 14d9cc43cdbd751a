"""Slow and idle clients against a real two-worker server: hundreds of connections that send
half a body, half a header block or nothing at all must not stop the server answering
everyone else; and gunicorn's own refusals (before the app sees the request) come back in
the API's JSON error format with an X-Request-ID.
"""

from __future__ import annotations

import json
import socket
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from .harness import ARTICLE, call, prepare, server_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WORKERS = 2
SLOW_BODIES = 150
SLOW_HEADERS = 100
IDLE = 100


def _open(port: int, stack: ExitStack, first_bytes: bytes) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def test_hundreds_of_slow_and_idle_connections_do_not_stop_the_service(tmp_path: Path, serve):
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    prepare(url)
    server = serve(server_env(url), WORKERS)
    partial_body = (f"POST /v1/articles/{ARTICLE}/comments HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    '{"author": {"na').encode()
    partial_headers = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
    with ExitStack() as stack:
        held = [_open(server.port, stack, partial_body) for _ in range(SLOW_BODIES)]
        held += [_open(server.port, stack, partial_headers) for _ in range(SLOW_HEADERS)]
        held += [_open(server.port, stack, b"") for _ in range(IDLE)]
        time.sleep(0.5)  # let the workers take them all in

        for _ in range(10):
            reply = call(server.base, "GET", "/healthz", timeout=3)
            assert reply.status == 200, reply.describe()
            assert reply.elapsed < 2, f"/healthz took {reply.elapsed:.2f}s"
        submitted = call(server.base, "POST", f"/v1/articles/{ARTICLE}/comments",
                         {"author": {"name": "Reader"}, "body": "Still answering."},
                         {"Idempotency-Key": "while-slow"}, timeout=5)
        assert submitted.status == 202, submitted.describe()
        assert all(sock.fileno() != -1 for sock in held)
    server.assert_no_crash_logged()


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n", 431),
    (b"POST /v1/articles/a/comments HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
])
def test_protocol_refusals_speak_the_error_format(tmp_path: Path, serve, request_bytes, status):
    url = f"sqlite:///{tmp_path / 'protocol.db'}"
    prepare(url)
    server = serve(server_env(url), 1)
    got, headers, body = _raw(server.port, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert set(body) == {"status", "code", "message", "errors", "request_id"}
    assert body["status"] == status and body["request_id"] == headers["x-request-id"]
    assert body["code"].isidentifier() and body["message"].endswith(".")


def test_a_request_waiting_for_a_postgres_lock_does_not_stall_its_worker(private_postgres,
                                                                         serve):
    """One worker: a submission waits on the log's head row, which the test holds locked;
    meanwhile the same worker must go on answering (psycopg must wait cooperatively)."""
    import threading

    import sqlalchemy as sa

    url = private_postgres.url
    prepare(url)
    server = serve(server_env(url), 1)
    holder = sa.create_engine(url)
    answers: list = []
    try:
        with holder.connect() as conn, conn.begin():
            conn.exec_driver_sql("SELECT last_position FROM event_store_head FOR UPDATE")
            waiting = threading.Thread(target=lambda: answers.append(call(
                server.base, "POST", f"/v1/articles/{ARTICLE}/comments",
                {"author": {"name": "Waiter"}, "body": "Waiting for the head row."},
                {"Idempotency-Key": "lock-wait"}, timeout=20)))
            waiting.start()
            time.sleep(0.5)  # the submission is now blocked on the row lock
            for _ in range(5):
                reply = call(server.base, "GET", "/healthz", timeout=3)
                assert reply.status == 200 and reply.elapsed < 1, reply.describe()
            assert waiting.is_alive()
        waiting.join(timeout=20)
    finally:
        holder.dispose()
    assert answers and answers[0].status == 202, answers[0].describe()
