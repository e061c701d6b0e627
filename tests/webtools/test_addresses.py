"""Which addresses count as the public internet, and IPv4 literals in every spelling."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from chat.webtools.addresses import ends_in_number, parse_ipv4, refusal


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.169.0.1",
        "2606:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_globally_routable_addresses_are_allowed(address):
    assert refusal(ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "is a loopback address"),
        ("127.255.255.254", "is a loopback address"),
        ("0.0.0.0", "is an unspecified (this-network) address"),
        ("::", "is an unspecified address"),
        ("::1", "is a loopback address"),
        ("10.1.2.3", "is a private address"),
        ("172.20.0.1", "is a private address"),
        ("192.168.0.1", "is a private address"),
        ("fd00::1", "is a private (unique local) address"),
        ("169.254.169.254", "is the cloud metadata address"),
        ("fd00:ec2::254", "is the cloud metadata address"),
        ("100.100.100.200", "is a cloud metadata address"),
        ("169.254.0.1", "is a link-local address"),
        ("fe80::abcd", "is a link-local address"),
        ("100.64.0.1", "is a carrier-grade NAT (shared) address"),
        ("224.0.0.251", "is a multicast address"),
        ("ff05::2", "is a multicast address"),
        ("198.18.5.5", "is a benchmarking address"),
        ("2001:2::1", "is a benchmarking address"),
        ("192.0.2.55", "is a documentation address"),
        ("3fff::1", "is a documentation address"),
        ("240.1.2.3", "is a reserved address"),
        ("192.0.0.8", "is a reserved (IETF protocol) address"),
        ("::ffff:127.0.0.1", "wraps 127.0.0.1, a loopback address"),
        ("::127.0.0.1", "wraps 127.0.0.1, a loopback address"),
        ("2002:7f00:1::", "wraps 127.0.0.1, a loopback address"),
        ("2002:c0a8:101::1", "wraps 192.168.1.1, a private address"),
        ("64:ff9b::7f00:1", "wraps 127.0.0.1, a loopback address"),
        ("64:ff9b::a9fe:a9fe", "wraps 169.254.169.254, the cloud metadata address"),
        ("2001::1", "is a Teredo tunnel address"),
        ("100::1", "is a discard-only address"),
    ],
)
def test_addresses_off_the_public_internet_are_refused_with_a_reason(address, reason):
    assert refusal(ip_address(address)) == reason


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.0X0.0X0.0X1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("10.0.0.1.", "10.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("192.168.257", "192.168.1.1"),
    ],
)
def test_ipv4_literals_are_read_as_browsers_read_them(host, address):
    assert ends_in_number(host)
    assert parse_ipv4(host) == IPv4Address(address)


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "256.0.0.1", "1.2.3.256", "0x100000000", "09.0.0.1", "1..2", "0xg"]
)
def test_malformed_ipv4_literals_are_errors(host):
    with pytest.raises(ValueError, match="not a valid IPv4 address"):
        parse_ipv4(host)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.example", "123abc", "a.b.c"])
def test_names_that_do_not_end_in_a_number_are_domain_names(host):
    assert not ends_in_number(host)
