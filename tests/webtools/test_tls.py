"""HTTPS to a pinned address still checks the certificate against the host name and sends it as SNI."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chat.webtools import SafeFetcher, WebToolsError
from tests.webtools.conftest import PUBLIC_IP, FakeNetwork, Resolver, http_response


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificates(tmp_path: Path, server_name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test CA, and a server certificate it signed for `server_name`: (server context, client context)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("FusionRoom test CA"))
        .issuer_name(_name("FusionRoom test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(server_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "server.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.key").write_bytes(_pem(key))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


async def _hello(request: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(http_response("<p>hello over TLS</p>"))
    await writer.drain()


@pytest.mark.asyncio
async def test_it_verifies_the_host_name_and_sends_it_as_sni_on_the_pinned_connection(tmp_path, listen):
    server, client = _certificates(tmp_path, "secure.example")
    seen: list[str | None] = []
    server.sni_callback = lambda sock, name, context: seen.append(name)  # type: ignore[assignment]
    listener = await listen(_hello, ssl_context=server)
    network = FakeNetwork(route_to=listener)
    async with SafeFetcher(
        resolver=Resolver({"secure.example": [PUBLIC_IP]}), network_backend=network, ssl_context=client
    ) as fetcher:
        page = await fetcher.fetch("https://secure.example/")

    assert "hello over TLS" in page.text
    assert network.attempts == [(PUBLIC_IP, 443)]
    assert seen == ["secure.example"]


@pytest.mark.asyncio
async def test_a_certificate_for_another_name_is_refused(tmp_path, listen):
    server, client = _certificates(tmp_path, "other.example")
    listener = await listen(_hello, ssl_context=server)
    async with SafeFetcher(
        resolver=Resolver({"secure.example": [PUBLIC_IP]}),
        network_backend=FakeNetwork(route_to=listener),
        ssl_context=client,
    ) as fetcher:
        with pytest.raises(WebToolsError, match=r"Could not fetch https://secure.example/: .*certificate"):
            await fetcher.fetch("https://secure.example/")
