"""A strict reading of the URLs a model asks us to fetch, rebuilt in one canonical spelling."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from chat.webtools.addresses import IPAddress, ends_in_number, parse_ip, parse_ipv4
from chat.webtools.hosts import host_port, normalise_host
from chat.webtools.types import WebToolsError

MAX_URL_LENGTH = 4096
SCHEMES: dict[str, int] = {"http": 80, "https": 443}
# Everything RFC 3986 allows unescaped in a path or query; the rest is percent-encoded.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# Control and formatting characters, and every kind of space: no URL we accept has them.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class SafeURL:
    """A URL that passed `parse_url`: the only form the fetcher hands to its HTTP client.

    `host` is lower-case ASCII with no trailing dot (an IP address without brackets);
    `ip` is set when the host is an IP literal; `target` is the path and query.
    """

    scheme: str
    host: str
    port: int
    target: str
    ip: IPAddress | None

    @property
    def authority(self) -> str:
        """`host:port` as allow_hosts spells it."""
        return host_port(self.host, self.port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == SCHEMES[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.target}"


def parse_url(text: str) -> SafeURL:
    """Read `text` strictly and return it canonical, or raise WebToolsError saying why not.

    Only http and https; no user-info, no backslash, no control character or space anywhere,
    a non-empty host; an IDN is IDNA-encoded; an IPv4 literal in any spelling (``127.1``,
    ``0x7f.0.0.1``, ``2130706433``, ``017700000001``) is read as the address it means; the
    fragment is dropped. Whether the address or port may be reached is the fetcher's call.
    """
    if len(text) > MAX_URL_LENGTH:
        raise _refused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    for character in text:
        if character == "\\":
            raise _refused("the URL contains a backslash")
        if unicodedata.category(character) in _FORBIDDEN_CATEGORIES:
            raise _refused(f"the URL contains a control or space character (U+{ord(character):04X})")
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise _refused(f"the URL does not parse ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        raise _refused(f"{shown} is not allowed; only http and https")
    if not text[len(scheme) + 1 :].startswith("//"):
        raise _refused("the URL has no host")
    if "@" in parts.netloc:
        raise _refused("the URL contains user-info (user@host)")
    host, ip, port = _authority(parts.netloc, SCHEMES[scheme])
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    query = f"?{quote(parts.query, safe=_QUERY_SAFE)}" if parts.query else ""
    return SafeURL(scheme=scheme, host=host, port=port, target=path + query, ip=ip)


def _authority(netloc: str, default_port: int) -> tuple[str, IPAddress | None, int]:
    if not netloc:
        raise _refused("the URL has no host")
    if netloc.startswith("["):
        literal, bracket, rest = netloc[1:].partition("]")
        if not bracket:
            raise _refused("the URL's IPv6 address is not closed with ']'")
        ip = parse_ip(literal) if "%" not in literal else None
        if ip is None or ip.version != 6:
            raise _refused(f"[{literal}] is not a valid IPv6 address")
        return ip.compressed, ip, _port(rest, default_port)
    name, colon, port_text = netloc.partition(":")
    if ":" in port_text:
        raise _refused("the URL's host has more than one ':' (an IPv6 address needs brackets)")
    port = _port(colon + port_text, default_port)
    if "%" in name:
        raise _refused("the URL's host is percent-encoded")
    try:
        host = normalise_host(name)
    except ValueError as error:
        raise _refused(str(error)) from None
    if ends_in_number(host):
        try:
            ipv4 = parse_ipv4(host)
        except ValueError as error:
            raise _refused(str(error)) from None
        return str(ipv4), ipv4, port
    return host, None, port


def _port(text: str, default: int) -> int:
    if not text:
        return default
    digits = text.removeprefix(":")
    if not text.startswith(":") or not digits.isascii() or not digits.isdigit() or len(digits) > 5:
        raise _refused(f"{text!r} is not a valid port")
    port = int(digits)
    if not 0 < port < 65536:
        raise _refused(f"port {port} is out of range")
    return port


def _refused(reason: str) -> WebToolsError:
    return WebToolsError(f"Refused: {reason}.")
