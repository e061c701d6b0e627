"""Domain lists cover subdomains, whatever the case, script or trailing dot, and nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chat.webtools import DomainPolicy


@pytest.mark.parametrize(
    "host",
    ["example.org", "a.example.org", "a.b.example.org", "www.example.org"],
)
def test_a_blocked_domain_covers_itself_and_its_subdomains(host):
    assert DomainPolicy(blocked_fetch_domains=["example.org"]).blocked_entry(host) == "example.org"


@pytest.mark.parametrize(
    "host",
    ["badexample.org", "example.org.evil.com", "example.com", "org", "xexample.org", "example.orgx"],
)
def test_a_blocked_domain_does_not_cover_lookalikes(host):
    assert DomainPolicy(blocked_fetch_domains=["example.org"]).blocked_entry(host) is None


@pytest.mark.parametrize(
    "entry",
    ["Example.ORG", "example.org.", " example.org ", "*.example.org", ".example.org", "ＥＸＡＭＰＬＥ.org"],
)
def test_entries_are_normalised(entry):
    assert DomainPolicy(blocked_fetch_domains=[entry]).blocked_fetch_domains == ["example.org"]


def test_international_names_match_in_either_spelling():
    unicode_entry = DomainPolicy(blocked_fetch_domains=["bücher.example"])
    punycode_entry = DomainPolicy(blocked_fetch_domains=["xn--bcher-kva.example"])

    assert unicode_entry.blocked_fetch_domains == ["xn--bcher-kva.example"]
    assert punycode_entry.blocked_entry("shop.xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert DomainPolicy(excluded_search_domains=["bücher.example"]).excludes_result(
        "https://SHOP.Bücher.example./x"
    )


def test_duplicates_are_dropped():
    policy = DomainPolicy(excluded_search_domains=["a.example", "A.example.", "b.example"])

    assert policy.excluded_search_domains == ["a.example", "b.example"]


@pytest.mark.parametrize("entry", ["", "exa mple.org", "https://example.org/path", "a..b", "-x.org"])
def test_malformed_entries_are_refused(entry):
    with pytest.raises(ValidationError, match="is not a domain name"):
        DomainPolicy(blocked_fetch_domains=[entry])


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        DomainPolicy.model_validate({"blocked_domains": ["example.org"]})


def test_merge_keeps_both_lists_of_each_kind():
    server = DomainPolicy(
        excluded_search_domains=["spam.example"], blocked_fetch_domains=["intranet.example"]
    )
    panel = DomainPolicy(excluded_search_domains=["pinterest.com", "spam.example"], blocked_fetch_domains=[])

    merged = DomainPolicy.merge(server, panel)

    assert merged.excluded_search_domains == ["spam.example", "pinterest.com"]
    assert merged.blocked_fetch_domains == ["intranet.example"]


@pytest.mark.parametrize(
    ("url", "excluded"),
    [
        ("https://www.pinterest.com/pin/1", True),
        ("http://PINTEREST.COM./", True),
        ("https://notpinterest.com/", False),
        ("https://example.com/?next=pinterest.com", False),
        ("ftp://example.com/file", True),
        ("javascript:alert(1)", True),
        ("https:///no-host", True),
    ],
)
def test_search_results_are_excluded_by_domain_and_when_not_http(url, excluded):
    assert DomainPolicy(excluded_search_domains=["pinterest.com"]).excludes_result(url) is excluded
