"""Host names as we compare and connect to them: lower-case ASCII (IDNA), no trailing dot."""

from __future__ import annotations

import re

import idna

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_MAX_HOST_LENGTH = 253


def normalise_host(text: str) -> str:
    """`text` as one lower-case ASCII name: IDNA (UTS #46) for non-ASCII, one trailing dot dropped.

    Raises ValueError, with a reason, for anything that is not a well-formed host name
    (empty labels, bad characters, over-long labels or names, invalid IDNA).
    """
    if not text:
        raise ValueError("the host is empty")
    if text.isascii():
        host = text.lower()
    else:
        try:
            host = idna.encode(text, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as error:
            raise ValueError(f"{text!r} is not a valid international domain name ({error})") from None
    host = host.removesuffix(".")
    if not host or len(host) > _MAX_HOST_LENGTH:
        raise ValueError(f"{text!r} is not a valid host name")
    for label in host.split("."):
        if not _LABEL.fullmatch(label):
            raise ValueError(f"{text!r} is not a valid host name")
    return host


def host_port(host: str, port: int) -> str:
    """The `host:port` key of allow_hosts, with IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
