"""Which IP addresses a fetch may connect to, and IPv4 literals in every spelling browsers accept."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves a host name for a TCP connection to `port`: every address, as text.
Raises OSError (socket.gaierror) when the name does not resolve."""

# Checked before `is_global`, whose answers have gaps (multicast, NAT64 and IPv4-compatible
# addresses wrapping loopback, site-local, the newer documentation prefix all count as
# "global" in Python 3.13) and have changed between Python releases. The first match names
# the reason.
_V4_REFUSED: tuple[tuple[IPv4Network | IPv6Network, str], ...] = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("169.254.169.254/32", "the cloud metadata address"),
        ("100.100.100.200/32", "a cloud metadata address"),
        ("0.0.0.0/8", "an unspecified (this-network) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("192.0.0.0/24", "a reserved (IETF protocol) address"),
        ("192.0.2.0/24", "a documentation address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("192.88.99.0/24", "a reserved (6to4 relay) address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)
_V6_REFUSED: tuple[tuple[IPv4Network | IPv6Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("fd00:ec2::254/128", "the cloud metadata address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("2001:2::/48", "a benchmarking address"),
        ("2001::/32", "a Teredo tunnel address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("5f00::/16", "a reserved (SRv6) address"),
        ("::/8", "a reserved address"),
    )
)
_NAT64 = IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = IPv6Network("::/96")


def refusal(address: IPAddress) -> str | None:
    """Why a fetch must not connect to `address`, as a predicate ("is a private address",
    "wraps 127.0.0.1, a loopback address"), or None when it is globally routable.

    An IPv6 address that carries an IPv4 one (IPv4-mapped, IPv4-compatible, 6to4, NAT64)
    is judged by the IPv4 address it reaches.
    """
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = _refusal(embedded, _V4_REFUSED)
            return None if reason is None else f"wraps {embedded}, {reason}"
        reason = _refusal(address, _V6_REFUSED)
    else:
        reason = _refusal(address, _V4_REFUSED)
    return None if reason is None else f"is {reason}"


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _refusal[A: (IPv4Address, IPv6Address)](
    address: A, refused: tuple[tuple[IPv4Network | IPv6Network, str], ...]
) -> str | None:
    for network, reason in refused:
        if address in network:
            return reason
    return None if address.is_global else "not a globally routable address"


# IPv4 literals as the WHATWG URL standard reads them (what browsers and many libraries
# accept): one to four dot-separated numbers, each decimal, octal (leading 0) or hex (0x).
_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"[0-9]+")


def ends_in_number(host: str) -> bool:
    """True when `host` must be read as an IPv4 address, not a domain name ("127.1", "0x7f.0.0.1")."""
    last = host.removesuffix(".").rsplit(".", 1)[-1]
    return bool(last) and (last.isdigit() and last.isascii() or _HEX.fullmatch(last) is not None)


def parse_ipv4(host: str) -> IPv4Address:
    """Read `host` as an IPv4 literal in any of the forms `ends_in_number` admits.

    Raises ValueError when it is not a valid one ("1.2.3.4.5", "0x1g.0.0.1", "256.1.1.1").
    """
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    numbers = [_ipv4_number(part, host) for part in parts]
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return IPv4Address(value)


def _ipv4_number(part: str, host: str) -> int:
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if part.startswith("0") and len(part) > 1:
        if _OCTAL.fullmatch(part):
            return int(part, 8)
    elif _DECIMAL.fullmatch(part) and part.isascii():
        return int(part)
    raise ValueError(f"{host!r} is not a valid IPv4 address")


def parse_ip(text: str) -> IPAddress | None:
    """`text` as an IP address (a resolver's answer or a connect target), or None for a name."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (one getaddrinfo call)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for _family, _type, _proto, _canonical, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses
