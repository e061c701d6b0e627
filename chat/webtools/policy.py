"""Which domains a panel's searches leave out and its fetches refuse."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chat.webtools.hosts import normalise_host


class DomainPolicy(BaseModel):
    """Domains left out of search results and refused for fetching.

    An entry covers the domain and every subdomain: "example.org" covers "example.org" and
    "a.b.example.org", not "badexample.org". Entries and hosts are compared lower-case,
    IDNA-encoded, without a trailing dot; "*.example.org" and ".example.org" mean "example.org".
    A malformed entry is a ValidationError.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    excluded_search_domains: list[str] = Field(default_factory=list)
    blocked_fetch_domains: list[str] = Field(default_factory=list)

    @field_validator("excluded_search_domains", "blocked_fetch_domains", mode="before")
    @classmethod
    def _normalised(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple | set | frozenset):
            return value
        entries: list[str] = []
        for entry in value:
            if not isinstance(entry, str):
                raise ValueError(f"{entry!r} is not a domain name")
            domain = _domain(entry)
            if domain not in entries:
                entries.append(domain)
        return entries

    @classmethod
    def merge(cls, server_wide: DomainPolicy, per_panel: DomainPolicy) -> DomainPolicy:
        """Both policies at once: a panel adds to the server's lists, it cannot lift them."""
        return cls(
            excluded_search_domains=server_wide.excluded_search_domains + per_panel.excluded_search_domains,
            blocked_fetch_domains=server_wide.blocked_fetch_domains + per_panel.blocked_fetch_domains,
        )

    def blocked_entry(self, host: str) -> str | None:
        """The entry of blocked_fetch_domains that covers `host` (a normalised host), if any."""
        return _covering(self.blocked_fetch_domains, host)

    def excludes_result(self, url: str) -> bool:
        """True when a search result at `url` must be left out: its domain is excluded, or
        the URL is not an http(s) URL with a readable host."""
        try:
            parts = urlsplit(url)
            host = normalise_host(parts.hostname or "")
        except ValueError:
            return True
        if parts.scheme.lower() not in ("http", "https"):
            return True
        return _covering(self.excluded_search_domains, host) is not None


def _domain(entry: str) -> str:
    text = entry.strip()
    for prefix in ("*.", "."):
        text = text.removeprefix(prefix)
    try:
        return normalise_host(text)
    except ValueError as error:
        raise ValueError(f"{entry!r} is not a domain name: {error}") from None


def _covering(domains: list[str], host: str) -> str | None:
    for domain in domains:
        if host == domain or host.endswith("." + domain):
            return domain
    return None
