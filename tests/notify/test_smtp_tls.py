"""SMTP with TLS against a real aiosmtpd server on loopback: STARTTLS with AUTH (the password
only ever crosses TLS), implicit TLS, certificate verification, and the configuration guard
against AUTH on a clear connection."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult
from aiosmtpd.smtp import LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scim_me.config import ConfigError
from scim_me.config import Settings
from scim_me.notify.mail import Mail
from scim_me.notify.mail import Mailer
from scim_me.notify.mail import SmtpTransport
from tests.support.mailserver import MailSink
from tests.support.mailserver import free_port

USER, PASSWORD = "relay-user", "relay-pass-9"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the test's own CA)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scim-me test relay")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def _client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


class AuthSink(MailSink):
    def __init__(self, **controller: object) -> None:
        self.logins: list[tuple[str, bool]] = []
        super().__init__(authenticator=self.authenticate, **controller)

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        self.logins.append((auth_data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok)


@pytest.fixture
def starttls_server(certificate) -> Iterator[AuthSink]:
    sink = AuthSink(
        tls_context=_server_context(certificate), require_starttls=True, auth_require_tls=True, auth_required=True
    )
    sink.start()
    yield sink
    sink.stop()


def _mail() -> Mail:
    return Mail(to="kim@example.com", subject="hello over TLS", text="body\n", kind="test")


def test_starttls_then_auth_delivers(starttls_server, certificate) -> None:
    transport = SmtpTransport(
        "127.0.0.1",
        starttls_server.port,
        security="starttls",
        username=USER,
        password=PASSWORD,
        context=_client_context(certificate),
    )
    assert Mailer(transport, "no-reply@id.example", backoff=0).deliver(_mail()) is True
    (received,) = starttls_server.wait_for(1)
    assert received.subject == "hello over TLS"
    assert starttls_server.logins == [(USER, True)]  # the credentials crossed TLS only


def test_wrong_credentials_are_a_permanent_failure(starttls_server, certificate, caplog) -> None:
    transport = SmtpTransport(
        "127.0.0.1",
        starttls_server.port,
        security="starttls",
        username=USER,
        password="wrong",
        context=_client_context(certificate),
    )
    assert Mailer(transport, "no-reply@id.example", retries=3, backoff=0).deliver(_mail()) is False
    assert len(starttls_server.logins) == 1  # 535 is not retried
    assert "wrong" not in caplog.text and PASSWORD not in caplog.text


def test_an_untrusted_certificate_is_refused(starttls_server) -> None:
    transport = SmtpTransport("127.0.0.1", starttls_server.port, security="starttls", username=USER, password=PASSWORD)
    # The system CAs do not know the test's certificate: no delivery, and no AUTH was attempted.
    assert Mailer(transport, "no-reply@id.example", retries=1, backoff=0).deliver(_mail()) is False
    assert starttls_server.logins == []
    assert starttls_server.messages == []


def test_implicit_tls(certificate) -> None:
    sink = MailSink(ssl_context=_server_context(certificate)).start()
    try:
        transport = SmtpTransport("127.0.0.1", sink.port, security="tls", context=_client_context(certificate))
        assert Mailer(transport, "no-reply@id.example", backoff=0).deliver(_mail()) is True
        assert sink.wait_for(1)[0].subject == "hello over TLS"
    finally:
        sink.stop()


def test_auth_over_a_clear_connection_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="smtp_username"):
        Settings.load(
            {"mail_transport": "smtp", "smtp_username": USER, "smtp_security": "none"}, environ={"SCIM_ME_CONFIG": ""}
        )
    with pytest.raises(ConfigError):
        Settings.load({"mail_transport": "carrier-pigeon"}, environ={"SCIM_ME_CONFIG": ""})
    assert Settings.load({"smtp_port": free_port()}, environ={"SCIM_ME_CONFIG": ""}).mail_transport == "outbox"
