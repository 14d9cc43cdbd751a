"""The SSRF guard, as a table: every input that must never be sent to, and a few that may."""

from __future__ import annotations

import pytest

from service.webhooks.ssrf import (
    BlockedDestination,
    Policy,
    check_destination,
    denial,
    parse_url,
    resolve,
)

STRICT = Policy()
LOOPBACK_OK = Policy(allow_loopback=True)

BLOCKED = [
    # (url, words the refusal must contain)
    ("http://2130706433/", "non-canonical"),          # decimal 127.0.0.1
    ("http://0x7f000001/", "non-canonical"),          # hex
    ("http://0177.0.0.1/", "non-canonical"),          # octal
    ("http://0x7f.1/", "non-canonical"),              # mixed short form
    ("http://127.1/", "non-canonical"),               # shortened
    ("http://0/", "non-canonical"),
    ("http://017700000001/", "non-canonical"),
    ("http://localhost/", "loopback"),
    ("http://localhost./", "loopback"),
    ("http://127.0.0.1:8080/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped"),
    ("http://[::ffff:8.8.8.8]/", "IPv4-mapped"),
    ("http://[2002:a9fe:a9fe::1]/", "6to4 address embedding 169.254.169.254"),
    ("http://[2002:0808:0808::1]/", "6to4"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 address embedding 169.254.169.254"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 address embedding 127.0.0.1"),
    ("http://[::]/", "unspecified"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fc00::1]/", "unique local"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[2001::1]/", "IETF"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.0.0.5/", "private"),
    ("http://172.16.3.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://192.0.0.8/", "IETF protocol"),
    ("http://192.0.2.1/", "documentation"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://198.51.100.7/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://192.88.99.1/", "6to4 relay"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://user:pass@example.com/", "credentials"),
    ("http://user@example.com/", "credentials"),
    ("http://example.com@127.0.0.1/", "credentials"),
    ("ftp://example.com/", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://127.0.0.1:6379/", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("http:///nohost", "no host"),
    ("http://exa mple.com/", "whitespace"),
    ("http://example.com/\r\nX: y", "whitespace"),
    ("http://[fe80::1%25eth0]/", "zone"),
    ("http://example.com:0/", "port 0"),
    ("http://example.com:99999/", "malformed"),
    ("http://-bad-.example/", "not a valid host"),
    ("http://example.com/#frag", "fragment"),
]


@pytest.mark.parametrize(("url", "why"), BLOCKED, ids=[u for u, _ in BLOCKED])
def test_blocked_destinations(url: str, why: str):
    with pytest.raises(BlockedDestination) as caught:
        check_destination(url, STRICT, resolver=_fake_dns)
    assert why in str(caught.value)


def test_loopback_only_with_the_explicit_setting():
    assert check_destination("http://127.0.0.1:9/", LOOPBACK_OK).host == "127.0.0.1"
    assert check_destination("http://[::1]:9/", LOOPBACK_OK).host_header == "[::1]:9"
    assert check_destination("http://localhost:9/", LOOPBACK_OK, resolver=_fake_dns)
    # Allowing loopback allows nothing else: not private, not metadata, not mapped forms.
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[::ffff:127.0.0.1]/",
                "http://2130706433/", "http://[64:ff9b::7f00:1]/"):
        with pytest.raises(BlockedDestination):
            check_destination(url, LOOPBACK_OK)


def test_https_only_setting():
    with pytest.raises(BlockedDestination, match="only https"):
        parse_url("http://hooks.example.com/", Policy(https_only=True))
    assert parse_url("https://hooks.example.com/x", Policy(https_only=True)).port == 443


def test_every_resolved_address_is_checked():
    # A name with one public and one private address is refused as a whole.
    target = parse_url("https://mixed.example.com/", STRICT)
    with pytest.raises(BlockedDestination, match="10.1.2.3"):
        resolve(target, STRICT, resolver=lambda h, p: ["93.184.216.34", "10.1.2.3"])
    assert [str(a) for a in resolve(target, STRICT, resolver=lambda h, p: ["93.184.216.34"])
            ] == ["93.184.216.34"]


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/moderation?x=1",
    "http://93.184.216.34:8080/",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
    "https://bücher.example/hook",
])
def test_public_destinations_pass(url: str):
    target = check_destination(url, STRICT, resolver=lambda h, p: ["93.184.216.34"])
    assert target.path.startswith("/")


def test_target_host_header_and_idna():
    t = parse_url("https://Bücher.Example:8443/a?b=c", STRICT)
    assert (t.host, t.port, t.path, t.host_header) == (
        "xn--bcher-kva.example", 8443, "/a?b=c", "xn--bcher-kva.example:8443")


def test_is_global_alone_would_have_let_these_through():
    import ipaddress

    for text in ("224.0.0.1", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "192.88.99.1"):
        address = ipaddress.ip_address(text)
        assert denial(address, STRICT) is not None, text


def _fake_dns(host: str, port: int) -> list[str]:
    table = {"localhost": ["127.0.0.1", "::1"], "example.com": ["93.184.216.34"]}
    if host not in table:
        raise OSError(f"unknown host {host}")
    return table[host]


def test_resolving_in_a_gevent_worker_keeps_the_worker_answering():
    """A gunicorn worker patches threading for gevent after the master imported the guard:
    resolving a name must still be cooperative and bounded, not freeze the worker (before,
    a name that did not resolve blocked every greenlet until gunicorn killed the worker)."""
    import subprocess
    import sys

    script = (
        "from service.webhooks import ssrf\n"  # imported first, as the master does
        "from gevent import monkey; monkey.patch_all()\n"
        "import gevent\n"
        "beats = []\n"
        "def beat():\n"
        "    while True:\n"
        "        gevent.sleep(0.01); beats.append(1)\n"
        "gevent.spawn(beat)\n"
        "def slow(host, port):\n"
        "    gevent.sleep(0.5); return ['192.0.2.1']\n"
        "try:\n"
        "    policy = ssrf.Policy()\n"
        "    ssrf.resolve(ssrf.parse_url('https://hooks.example.org/x', policy), policy,\n"
        "                 resolver=slow, timeout=5.0)\n"
        "except ssrf.BlockedDestination as exc:\n"
        "    print('refused', type(exc).__name__)\n"
        "print('beats', len(beats) > 0)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused", "BlockedDestination", "beats", "True"], done.stdout
