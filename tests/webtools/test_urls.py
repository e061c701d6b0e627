"""URLs are read strictly and handed to the HTTP client in one canonical spelling."""

from __future__ import annotations

import pytest

from chat.webtools.urls import parse_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://example.com", "http://example.com/"),
        ("HTTPS://Example.COM:443/Path?Q=1#section", "https://example.com/Path?Q=1"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com./a", "http://example.com/a"),
        ("http://bücher.example/straße?q=ü", "http://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"),
        ("http://ｅｘａｍｐｌｅ.com/", "http://example.com/"),
        ("http://example.com/a%20b?x=%2F", "http://example.com/a%20b?x=%2F"),
        ('http://example.com/"<x>"?{y}', "http://example.com/%22%3Cx%3E%22?%7By%7D"),
        ("http://example.com?@evil.example", "http://example.com/?@evil.example"),
        ("http://[2606:4700:0::1111]:443/", "http://[2606:4700::1111]:443/"),
        ("http://8.8.8.8/", "http://8.8.8.8/"),
        ("http://134744072/", "http://8.8.8.8/"),
    ],
)
def test_it_rebuilds_urls_canonically(url, canonical):
    assert str(parse_url(url)) == canonical


def test_it_keeps_the_parts_the_fetcher_checks():
    url = parse_url("https://[::ffff:127.0.0.1]:8443/x")

    assert (url.scheme, url.host, url.port, url.target) == ("https", "::ffff:127.0.0.1", 8443, "/x")
    assert str(url.ip) == "::ffff:127.0.0.1"
    assert url.authority == "[::ffff:127.0.0.1]:8443"


def test_a_domain_name_has_no_ip():
    assert parse_url("http://example.com/").ip is None
