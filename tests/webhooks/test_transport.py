"""One POST against real loopback servers: pinning, Host/SNI, no redirects, the deadline."""

from __future__ import annotations

import ssl
import time

import pytest
import trustme

from service.webhooks.ssrf import Policy
from service.webhooks.transport import Transport, TransportError

from .receivers import DripServer, Receiver, closed_port

LOOPBACK = Policy(allow_loopback=True)


def transport(deadline: float = 1.0, **kw) -> Transport:
    return Transport(LOOPBACK, deadline_seconds=deadline, connect_timeout=0.5, **kw)


def test_posts_the_exact_bytes_with_our_headers(receiver: Receiver):
    receiver.respond = lambda r: (200, {"X-Seen": "yes"}, b"thanks")
    response = transport().post(receiver.url, b'{"a":1}', {"webhook-id": "evt-1"})
    assert (response.status, response.body, response.headers["x-seen"]) == (200, b"thanks",
                                                                            "yes")
    [got] = receiver.received
    assert got.body == b'{"a":1}'
    assert got.headers["webhook-id"] == "evt-1"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"


def test_redirects_are_never_followed(receiver: Receiver):
    receiver.respond = lambda r: (302, {"Location": "http://169.254.169.254/"}, b"")
    response = transport().post(receiver.url, b"{}", {})
    assert response.status == 302
    assert len(receiver.received) == 1


def test_response_body_is_truncated(receiver: Receiver):
    receiver.respond = lambda r: (500, {}, b"e" * 10_000)
    response = transport(max_body=100).post(receiver.url, b"{}", {})
    assert (response.status, len(response.body), response.truncated) == (500, 100, True)


def test_receiver_down_is_a_connect_error():
    with pytest.raises(TransportError) as caught:
        transport().post(f"http://127.0.0.1:{closed_port()}/", b"{}", {})
    assert caught.value.kind == "connect"


def test_a_slow_answer_hits_the_deadline(receiver: Receiver):
    receiver.respond = lambda r: (time.sleep(1.5), (200, {}, b""))[1]
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport(deadline=0.5).post(receiver.url, b"{}", {})
    assert caught.value.kind in ("deadline", "timeout")
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize("head_first", [False, True], ids=["drip-status-line", "drip-body"])
def test_a_slow_drip_is_cut_by_the_total_deadline(head_first: bool):
    server = DripServer(interval=0.2, head_first=head_first)
    try:
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            transport(deadline=1.0).post(server.url, b"{}", {})
        took = time.monotonic() - started
    finally:
        server.close()
    assert caught.value.kind == "deadline"
    # Each byte arrives well within any per-read timeout; only a total deadline stops it.
    assert 0.9 <= took < 1.4, took


def test_the_connection_goes_to_the_checked_address(receiver: Receiver):
    """DNS is asked once, and that answer is what we connect to (no second lookup)."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    t = transport(resolver=lambda host, port: next(answers))
    response = t.post(f"http://hooks.example.test:{receiver.port}/x", b"{}", {})
    assert response.status == 204
    assert receiver.received[0].headers["host"] == f"hooks.example.test:{receiver.port}"
    # The next send asks DNS again and is refused: rebinding to a private address.
    with pytest.raises(TransportError) as caught:
        t.post(f"http://hooks.example.test:{receiver.port}/x", b"{}", {})
    assert caught.value.kind == "blocked"
    assert len(receiver.received) == 1


def test_blocked_addresses_are_refused_at_send_time():
    with pytest.raises(TransportError) as caught:
        Transport(Policy(), deadline_seconds=1).post("http://127.0.0.1:9/", b"{}", {})
    assert caught.value.kind == "blocked"


def test_https_is_pinned_with_the_host_name_for_sni_and_certificate():
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example.test").configure_cert(server_ctx)
    seen_sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    receiver = Receiver(tls=server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    try:
        t = transport(resolver=lambda host, port: ["127.0.0.1"], ssl_context=client_ctx)
        response = t.post(f"https://hooks.example.test:{receiver.port}/x", b"{}", {})
        assert response.status == 204
        assert seen_sni == ["hooks.example.test"]
        assert receiver.received[0].headers["host"] == f"hooks.example.test:{receiver.port}"
        # The same server under a name its certificate does not carry: refused.
        other = transport(resolver=lambda host, port: ["127.0.0.1"], ssl_context=client_ctx)
        with pytest.raises(TransportError) as caught:
            other.post(f"https://other.example.test:{receiver.port}/x", b"{}", {})
        assert caught.value.kind == "tls"
    finally:
        receiver.close()
