"""Real HTTP receivers on loopback, for the webhook tests: no mocks, real sockets.

`Receiver` is a small threaded http.server that verifies every request with the
`standardwebhooks` package (through service.webhooks.signing.verify) and records it. What it
answers is programmable per test (`respond`), which is how faults are injected: 500, 410,
302, 429 with Retry-After, a slow answer. `DripServer` speaks raw sockets to drip a response
one byte at a time; `closed_port()` gives a port nobody listens on.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import WebhookVerificationError

from service.webhooks import signing


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[int]  # indexes of the receiver's secrets that verify it
    error: str | None
    at: float
    payload: dict | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    respond: Callable[[Received], Answer] = lambda _r: (204, {}, b"")
    received: list[Received] = field(default_factory=list)
    concurrent_max: dict[str, int] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                item = receiver._record(self.path, headers, body)
                try:
                    status, extra, content = receiver.respond(item)
                finally:
                    receiver._done(item)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # several dispatchers connect at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}/hooks"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        verified, error, payload = [], None, None
        for i, secret in enumerate(self.secrets):
            try:
                payload = signing.verify(secret, body, headers)
                verified.append(i)
            except WebhookVerificationError as exc:
                error = str(exc)
        item = Received(path, headers, body, verified, None if verified else error,
                        time.monotonic(), payload)
        with self._lock:
            self.received.append(item)
            wid = item.webhook_id
            self._active[wid] = self._active.get(wid, 0) + 1
            self.concurrent_max[wid] = max(self.concurrent_max.get(wid, 0), self._active[wid])
        return item

    def _done(self, item: Received) -> None:
        with self._lock:
            self._active[item.webhook_id] -= 1

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DripServer:
    """Answers every connection with a valid HTTP response, one byte every INTERVAL s."""

    def __init__(self, interval: float = 0.2, head_first: bool = False):
        self.interval = interval
        self.head_first = head_first  # send the status line and headers at once, drip body
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/drip"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        body = b"x" * 1000
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        try:
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                conn.recv(65536)
            if self.head_first:
                conn.sendall(head)
                data = body
            else:
                data = head + body
            for i in range(len(data)):
                if self.stop.is_set():
                    break
                conn.sendall(data[i:i + 1])
                time.sleep(self.interval)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def closed_port() -> int:
    """A loopback port that was just free: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
