"""The SSRF guard: which URLs we may POST to, and which addresses we may connect to.

A webhook URL is chosen by whoever registers the endpoint, so every send could be aimed at
our own network (the cloud metadata service at 169.254.169.254, a database on 10.0.0.5,
the admin port on localhost). The rules:

- http or https only (https only, when the deployment says so); no credentials in the URL;
  the host is a DNS name or a canonical IP literal. Numeric shorthand that resolvers accept
  but people do not read (2130706433, 0x7f000001, 0177.0.0.1, 127.1) is refused outright.
- The name is resolved and *every* address is checked against an explicit deny list, not
  only `ipaddress.is_global` (which calls multicast, 6to4 and NAT64 addresses global). An
  address that wraps an IPv4 one (IPv4-mapped, 6to4, NAT64) is refused as a whole; the
  wrapped address is named in the reason.
- The caller connects to the address that was checked (see transport.py), so a DNS answer
  that changes between check and connect (rebinding) cannot redirect the request.
- Loopback is refused unless `allow_loopback` is set, which only tests and local
  development do.

Checked at registration (a helpful error) and again at every send (DNS changes).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

MAX_URL_LENGTH = 2000

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# (network, why). Order matters only for the message: the first match is named.
DENIED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified or 'this network'"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT (shared address space)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local (cloud metadata)"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "6to4 relay anycast"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),
    (_V4("255.255.255.255/32"), "broadcast"),
)
DENIED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::ffff:0:0/96"), "IPv4-mapped"),
    (_V6("::/96"), "IPv4-compatible (deprecated)"),
    (_V6("64:ff9b::/96"), "NAT64"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001::/23"), "IETF protocol assignments (Teredo and others)"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2002::/16"), "6to4"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("5f00::/16"), "segment routing (SRv6)"),
    (_V6("fc00::/7"), "unique local (private)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)


class BlockedDestination(ValueError):
    """The URL or one of its addresses may not be used as a webhook destination."""


class ResolutionFailed(OSError):
    """The host name did not resolve (or not within the time left)."""


@dataclass(frozen=True)
class Policy:
    allow_loopback: bool = False
    https_only: bool = False


@dataclass(frozen=True)
class Target:
    """A URL taken apart: where to connect, what to send as Host and SNI, and what path."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) host name or canonical IP literal, without brackets
    port: int
    path: str  # path and query, never empty
    ip_literal: IPAddress | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str, policy: Policy) -> Target:
    """Take a webhook URL apart, refusing every form the rules above exclude."""
    if not isinstance(url, str) or not url:
        raise BlockedDestination("the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise BlockedDestination(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise BlockedDestination("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedDestination(f"the URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedDestination("only http and https URLs are allowed")
    if policy.https_only and scheme != "https":
        raise BlockedDestination("only https URLs are allowed here")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise BlockedDestination("the URL must not contain credentials (user:password@)")
    if parts.fragment:
        raise BlockedDestination("the URL must not contain a fragment (#...)")
    raw_host = parts.hostname
    if not raw_host:
        raise BlockedDestination("the URL has no host")
    host, literal = _canonical_host(raw_host, bracketed="[" in parts.netloc)
    if port == 0:
        raise BlockedDestination("port 0 is not a valid destination")
    port = port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url, scheme, host, port, path, literal)


def _canonical_host(raw: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    if bracketed:
        if "%" in raw:
            raise BlockedDestination("IPv6 zone identifiers are not allowed")
        try:
            return raw, ipaddress.IPv6Address(raw)
        except ValueError:
            raise BlockedDestination(f"{raw!r} is not a valid IPv6 address") from None
    try:
        address = ipaddress.IPv4Address(raw)
        return str(address), address
    except ValueError:
        pass
    # Decimal, hex, octal and shortened IPv4 forms: inet_aton (and so getaddrinfo) accepts
    # them, and they exist mainly to slip past filters. A real host name never parses.
    try:
        socket.inet_aton(raw)
    except OSError:
        pass
    else:
        raise BlockedDestination(
            f"{raw!r} is a non-canonical IPv4 address; write it as four decimal numbers")
    if raw.rstrip(".").replace(".", "").isdigit():
        raise BlockedDestination(f"{raw!r} is not a valid host")
    try:
        ascii_host = raw.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BlockedDestination(f"{raw!r} is not a valid host name") from None
    labels = ascii_host.split(".")
    if not ascii_host or len(ascii_host) > 253 or any(
        not label or len(label) > 63 or label.startswith("-") or label.endswith("-")
        or not all(c.isalnum() or c == "-" for c in label) for label in labels
    ):
        raise BlockedDestination(f"{raw!r} is not a valid host name")
    return ascii_host, None


def denial(address: IPAddress, policy: Policy) -> str | None:
    """Why ADDRESS may not be connected to, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            inner = denial(mapped, Policy())
            return f"IPv4-mapped address of {mapped}" + (f" ({inner})" if inner else "")
        for network, why in DENIED_V6:
            if address in network:
                if why == "loopback" and policy.allow_loopback:
                    return None
                embedded = _embedded_v4(address, network)
                if embedded is not None:
                    inner = denial(embedded, Policy())
                    return f"{why} address embedding {embedded}" + (
                        f" ({inner})" if inner else "")
                return why
    else:
        for network, why in DENIED_V4:
            if address in network:
                if why == "loopback" and policy.allow_loopback:
                    return None
                return why
    if not address.is_global:  # a backstop for ranges the lists above do not name
        return "not globally routable"
    return None


def _embedded_v4(address: ipaddress.IPv6Address,
                 network: ipaddress.IPv6Network) -> ipaddress.IPv4Address | None:
    if network.prefixlen == 16 and network.network_address == ipaddress.IPv6Address("2002::"):
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)  # 6to4: bits 16-48
    if network.prefixlen == 96:  # NAT64 and IPv4-compatible: the last 32 bits
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_address(address: IPAddress | str, policy: Policy) -> IPAddress:
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    why = denial(ip, policy)
    if why is not None:
        raise BlockedDestination(f"{ip} is not an allowed destination: {why}")
    return ip


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = str(sockaddr[0]).split("%", 1)[0]
        if addr not in seen:
            seen.append(addr)
    return seen


_RESOLVERS: dict[int, ThreadPoolExecutor] = {}


def _resolvers() -> ThreadPoolExecutor:
    """The resolver threads of this process, made on first use. A gunicorn worker makes its
    threads cooperative (gevent) after the master imported this module; an executor made
    before that would block every greenlet of the worker while a name resolves, until the
    worker is killed with no answer sent."""
    pid = os.getpid()
    executor = _RESOLVERS.get(pid)
    if executor is None:
        executor = _RESOLVERS[pid] = ThreadPoolExecutor(max_workers=8,
                                                        thread_name_prefix="webhook-dns")
    return executor


def resolve(target: Target, policy: Policy, *, resolver: Resolver = system_resolver,
            timeout: float = 5.0) -> list[IPAddress]:
    """Every address of TARGET, each checked; BlockedDestination if any one is denied.

    Resolution runs on a helper thread so that a stuck resolver costs at most TIMEOUT: the
    system resolver itself has no deadline we can set.
    """
    if target.ip_literal is not None:
        return [check_address(target.ip_literal, policy)]
    future = _resolvers().submit(resolver, target.host, target.port)
    try:
        answers = future.result(timeout=max(timeout, 0.001))
    except FutureTimeout:
        future.cancel()
        raise ResolutionFailed(f"resolving {target.host} took longer than {timeout:.1f} s") \
            from None
    except (OSError, UnicodeError) as exc:
        raise ResolutionFailed(f"{target.host} does not resolve: {exc}") from None
    if not answers:
        raise ResolutionFailed(f"{target.host} has no addresses")
    checked = []
    for answer in answers:
        try:
            ip = ipaddress.ip_address(answer)
        except ValueError:
            raise ResolutionFailed(f"{target.host} resolved to {answer!r}") from None
        why = denial(ip, policy)
        if why is not None:
            raise BlockedDestination(
                f"{target.host} resolves to {ip}, which is not an allowed destination: {why}")
        checked.append(ip)
    return checked


def check_destination(url: str, policy: Policy, *, resolver: Resolver = system_resolver,
                      timeout: float = 5.0) -> Target:
    """Registration-time check: the URL's form, and every address it resolves to now."""
    target = parse_url(url, policy)
    try:
        resolve(target, policy, resolver=resolver, timeout=timeout)
    except ResolutionFailed as exc:
        raise BlockedDestination(str(exc)) from None
    return target
