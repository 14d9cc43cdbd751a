"""End to end: `moderation serve` as a real process (gunicorn, several workers) over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.migrate import head_revision

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT = 30
REQUEST_TIMEOUT = 10


def moderation_command() -> list[str]:
    script = Path(sys.executable).with_name("moderation")
    if script.exists():
        return [str(script)]
    found = shutil.which("moderation")
    return [found] if found else [sys.executable, "-m", "service.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base: str
    env: dict[str, str]

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={**({"Content-Type": "application/json"}
                                                     if data else {}), **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), dict(error.headers)
        return status, got, json.loads(raw) if raw else None


def run_cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*moderation_command(), *args], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def serving(env: dict[str, str], workers: int, log_path: Path) -> Iterator[str]:
    """`moderation serve` on a free port until the block ends; yields its base URL once
    /readyz answers 200 (the log is shown if it exits or never gets ready)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = log_path.open("w")
    process = subprocess.Popen(
        [*moderation_command(), "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=REQUEST_TIMEOUT) as ready:
                    if ready.status == 200:
                        break
            except OSError:  # not listening yet, or 503 while not ready
                pass
            assert time.monotonic() < deadline, "server did not become ready in time"
            time.sleep(0.2)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
           "MODERATION_LOG_LEVEL": "WARNING"}
    run_cli(["db", "upgrade"], env)
    run_cli(["articles", "register", "e2e-article", "--title", "End to end"], env)
    with serving(env, 2, tmp_path / "serve.log") as base:
        yield Server(base, env)


def test_submit_queue_approve_publish_audit_over_http(server: Server):
    moderator = run_cli(["tokens", "create", "--name", "e2e-mod", "--role", "moderator"],
                        server.env).strip()
    auditor = run_cli(["tokens", "create", "--name", "e2e-aud", "--role", "auditor"],
                      server.env).strip()
    as_moderator = {"Authorization": f"Bearer {moderator}"}
    text = "ئەمە ڕاپۆرتێکی باشە \u200f👍"

    status, headers, body = server.call(
        "POST", "/v1/articles/e2e-article/comments",
        {"author": {"name": "Hêvî", "email": "hevi@example.org"}, "body": text},
        {"Idempotency-Key": "e2e-1", "X-Request-ID": "e2e-submit"})
    assert status == 202, body
    comment_id = body["id"]
    assert headers["Location"] == f"/v1/comments/{comment_id}"
    assert headers["X-Request-ID"] == "e2e-submit"

    status, _, queue = server.call("GET", "/v1/queue", headers=as_moderator)
    assert status == 200
    assert [item["id"] for item in queue["items"]] == [comment_id]
    assert queue["total"] == 1

    status, headers, comment = server.call("GET", f"/v1/comments/{comment_id}",
                                           headers=as_moderator)
    assert status == 200 and comment["body"] == text
    status, _, decision = server.call(
        "POST", f"/v1/comments/{comment_id}/approve", {"note": "welcome"},
        {**as_moderator, "If-Match": headers["ETag"]})
    assert status == 200, decision
    assert decision["status"] == "approved"

    status, _, public = server.call("GET", "/v1/articles/e2e-article/comments")
    assert status == 200
    assert [(c["id"], c["body"]) for c in public["items"]] == [(comment_id, text)]
    assert "hevi@example.org" not in json.dumps(public)

    status, _, feed = server.call("GET", "/v1/events?limit=1000",
                                  headers={"Authorization": f"Bearer {auditor}"})
    assert status == 200
    types = [event["type"] for event in feed["items"]]
    assert types[0] == "article.registered"
    assert "comment.submitted" in types and types[-1] == "comment.approved"
    approved = feed["items"][-1]
    assert approved["metadata"]["actor"] == {"id": "e2e-mod", "role": "moderator"}
    assert text not in json.dumps(feed, ensure_ascii=False)  # auditors see no comment text
    assert [e["position"] for e in feed["items"]] == list(range(1, len(types) + 1))

    status, _, audit = server.call("GET", "/v1/audit/decisions",
                                   headers={"Authorization": f"Bearer {auditor}"})
    assert status == 200
    assert [(d["comment_id"], d["moderator_id"]) for d in audit["items"]] == [
        (comment_id, "e2e-mod")]

    status, _, error = server.call("GET", "/v1/queue")
    assert status == 401 and error["code"] == "unauthenticated"
    status, _, spec = server.call("GET", "/openapi.json")
    assert status == 200 and "/v1/queue" in spec["paths"]


def _chunked_post(server: Server, path: str, body: bytes) -> int:
    import http.client
    host, port = server.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", path, body=iter([body[i:i + 8192]
                                                    for i in range(0, len(body), 8192)]),
                           headers={"Content-Type": "application/json"},
                           encode_chunked=True)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_refused_whole(server: Server):
    auditor = run_cli(["tokens", "create", "--name", "e2e-chunk", "--role", "auditor"],
                      server.env).strip()
    valid = json.dumps({"author": {"name": "Chunked"}, "body": "Cut here?"}).encode()
    cut_is_valid = valid + b" " * (65536 - len(valid))
    path = "/v1/articles/e2e-article/comments"
    assert _chunked_post(server, path, cut_is_valid + b"x" * 40_000) == 413
    _, _, feed = server.call("GET", "/v1/events?limit=1000",
                             headers={"Authorization": f"Bearer {auditor}"})
    assert not [e for e in feed["items"] if e["type"].startswith("comment.")]
    assert _chunked_post(server, path, valid) == 202
    with socket.create_connection(("127.0.0.1", int(server.base.rsplit(":", 1)[1]))) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".encode())
        answer = ""
        while not answer.rstrip().endswith("}"):
            answer += sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 400 "), answer
    assert '"code": "unreadable_body"' in answer.replace('":"', '": "'), answer


def test_metrics_add_up_every_worker(server: Server):
    for _ in range(12):
        assert server.call("GET", "/healthz")[0] == 200
    with urllib.request.urlopen(server.base + "/metrics", timeout=REQUEST_TIMEOUT) as response:
        text = response.read().decode()
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("moderation_http_requests_total{")
                  and 'endpoint="/healthz"' in line)
    assert counted >= 12, text[:2000]
    assert "moderation_queue_depth 0.0" in text


def test_json_logs_are_one_format_from_start_to_shutdown(tmp_path: Path):
    """The master's lines, the workers' and the access log all come out as JSON objects,
    the access line with the request's id, and a fresh database's migration is one line."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.db'}",
           "MODERATION_LOG_LEVEL": "INFO", "MODERATION_LOG_FORMAT": "json"}
    log_path = tmp_path / "serve.log"
    with serving(env, 2, log_path) as base:
        request = urllib.request.Request(base + "/healthz",
                                         headers={"X-Request-ID": "logged-request-1"})
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            assert response.status == 200
        time.sleep(0.5)  # the access line is written after the response
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    loggers = {line["logger"] for line in lines}
    assert {"service.server", "gunicorn.error", "gunicorn.access"} <= loggers, loggers
    assert not any(name.startswith("alembic") for name in loggers), loggers
    upgraded = [line["message"] for line in lines if "schema upgraded" in line["message"]]
    assert upgraded == [f"database schema upgraded from empty to {head_revision()}"]
    access = [line for line in lines if line["logger"] == "gunicorn.access"
              and "/healthz" in line["message"] and line["request_id"] == "logged-request-1"]
    assert access, lines


def test_registering_a_webhook_by_host_name_leaves_the_worker_serving(tmp_path: Path):
    """The address check resolves the host on a helper pool. Made before the worker's
    gevent patching (on import, in the master), the pool waited on a native queue and
    stalled its whole worker after the first look-up, until gunicorn killed it."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'dns.db'}",
           "MODERATION_LOG_LEVEL": "WARNING"}
    run_cli(["db", "upgrade"], env)
    admin = run_cli(["tokens", "create", "--name", "e2e-admin", "--role", "admin"],
                    env).split()[-1]
    with serving(env, 1, tmp_path / "serve.log") as base:
        server = Server(base, env)
        for attempt in range(3):
            status, _, body = server.call(
                "POST", "/v1/webhooks/endpoints", {"url": f"https://localhost/hook{attempt}"},
                {"Authorization": f"Bearer {admin}"})
            assert status == 422 and "not an allowed destination" in body["message"], body
            started = time.monotonic()
            assert server.call("GET", "/healthz")[0] == 200
            assert time.monotonic() - started < REQUEST_TIMEOUT
