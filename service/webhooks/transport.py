"""One HTTP POST to a webhook endpoint, under a total deadline we enforce ourselves.

Why not an HTTP client library: their timeouts are per operation (connect, each read), so a
receiver that drips one byte every fraction of a second, in the status line, the headers or
the body, holds the request for as long as it likes (encode/httpx#1450). Here every socket
operation gets as its timeout only the time left before the attempt's deadline, so connect
+ TLS + send + read can never take longer than the deadline, and no thread is needed to
police it. http.client does the HTTP/1.1 parsing.

- The name is resolved and checked by the SSRF guard, and the connection goes to the checked
  address (pinned): a DNS answer that changes after the check cannot redirect us. `Host` and
  TLS SNI/certificate checks use the URL's host name.
- Redirects are never followed (a 3xx is just a status code to the dispatcher), no proxy is
  taken from the environment, the connection is not reused.
- At most `max_body` bytes of the response are read, and kept as the attempt's excerpt.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from . import ssrf

USER_AGENT = "moderation-webhooks/1"


class DeadlineExceeded(TimeoutError):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined by ", "
    body: bytes  # at most max_body bytes
    truncated: bool
    duration_ms: int


class TransportError(Exception):
    """No HTTP response: KIND is one of invalid_url, blocked, dns, connect, tls, timeout,
    deadline, protocol."""

    def __init__(self, kind: str, message: str, duration_ms: int = 0):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.duration_ms = duration_ms


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the attempt's total deadline passed")
        return left


class _DeadlineReader(io.RawIOBase):
    """Raw reads from the socket, each bounded by the time left."""

    def __init__(self, sock: socket.socket, deadline: _Deadline):
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        self._sock.settimeout(self._deadline.left())
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What http.client needs of a socket (sendall, makefile, close), deadline-bound."""

    def __init__(self, sock: socket.socket, deadline: _Deadline):
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        # sendall with a timeout bounds the whole call, not each chunk (Python >= 3.5).
        self._sock.settimeout(self._deadline.left())
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        # http.client closes the connection as soon as it has the response headers when the
        # server says "Connection: close", while the body is still to be read through
        # makefile(); a real socket counts makefile references, so this one must not close
        # early either. Transport.post closes the socket itself when it is done.
        pass


class _PinnedConnection(http.client.HTTPConnection):
    def __init__(self, target: ssrf.Target, sock: socket.socket, deadline: _Deadline):
        super().__init__(target.host, target.port)
        self._pinned = _DeadlineSocket(sock, deadline)

    def connect(self) -> None:
        self.sock = self._pinned


class Transport:
    def __init__(self, policy: ssrf.Policy, *, deadline_seconds: float = 15.0,
                 connect_timeout: float = 5.0, max_body: int = 4096,
                 resolver: ssrf.Resolver = ssrf.system_resolver,
                 ssl_context: ssl.SSLContext | None = None):
        self.policy = policy
        self.deadline_seconds = deadline_seconds
        self.connect_timeout = connect_timeout
        self.max_body = max_body
        self.resolver = resolver
        self.ssl_context = ssl_context or ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        started = time.monotonic()
        deadline = _Deadline(self.deadline_seconds)

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            target = ssrf.parse_url(url, self.policy)
        except ssrf.BlockedDestination as exc:
            raise TransportError("invalid_url", str(exc), elapsed()) from None
        sock = None
        try:
            addresses = ssrf.resolve(target, self.policy, resolver=self.resolver,
                                     timeout=min(self.connect_timeout, deadline.left()))
            sock = self._connect(target, addresses, deadline)
            conn = _PinnedConnection(target, sock, deadline)
            request_headers = {
                "Host": target.host_header, "User-Agent": USER_AGENT,
                "Content-Type": "application/json", "Connection": "close",
                **headers,
            }
            conn.request("POST", target.path, body=body, headers=request_headers)
            response = conn.getresponse()
            content = b""
            while len(content) <= self.max_body:
                chunk = response.read(self.max_body + 1 - len(content))
                if not chunk:
                    break
                content += chunk
            result = Response(
                status=response.status,
                headers=_headers(response.getheaders()),
                body=content[:self.max_body],
                truncated=len(content) > self.max_body,
                duration_ms=elapsed(),
            )
            response.close()
            return result
        except ssrf.BlockedDestination as exc:
            raise TransportError("blocked", str(exc), elapsed()) from None
        except ssrf.ResolutionFailed as exc:
            raise TransportError("dns", str(exc), elapsed()) from None
        except DeadlineExceeded:
            raise TransportError(
                "deadline", f"no complete response within {self.deadline_seconds:g} s",
                elapsed()) from None
        except TimeoutError:
            kind = "deadline" if time.monotonic() >= deadline.end - 0.001 else "timeout"
            raise TransportError(kind, f"timed out after {elapsed()} ms", elapsed()) from None
        except ssl.SSLError as exc:
            raise TransportError("tls", str(exc), elapsed()) from None
        except ssl.CertificateError as exc:
            raise TransportError("tls", str(exc), elapsed()) from None
        except (http.client.HTTPException, ValueError) as exc:
            raise TransportError("protocol", f"{type(exc).__name__}: {exc}", elapsed()) \
                from None
        except OSError as exc:
            raise TransportError("connect", f"{type(exc).__name__}: {exc}", elapsed()) \
                from None
        finally:
            if sock is not None:
                sock.close()

    def _connect(self, target: ssrf.Target, addresses: list[ssrf.IPAddress],
                 deadline: _Deadline) -> socket.socket:
        last: OSError | None = None
        for address in addresses:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(min(self.connect_timeout, deadline.left()))
                sock.connect((str(address), target.port))
                if target.scheme == "https":
                    sock.settimeout(deadline.left())  # bounds the whole handshake
                    tls = self.ssl_context.wrap_socket(
                        sock, server_hostname=target.host, do_handshake_on_connect=False)
                    tls.do_handshake()
                    return tls
                return sock
            except ssl.SSLError:
                sock.close()
                raise
            except OSError as exc:
                sock.close()
                if isinstance(exc, TimeoutError) and time.monotonic() >= deadline.end:
                    raise
                last = exc
        raise last or OSError("no address to connect to")


def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out
