"""SII_* settings as a process sees them: list separators, Fernet keys checked at start, e-mail over real SMTP."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.factories import make_user
from tests.processes import child_environment, free_port

_REPO = Path(__file__).resolve().parent.parent
_SETTINGS_AS_JSON = (
    "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, name) for name in "
    "['ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', "
    "'EMAIL_HOST_PASSWORD', 'EMAIL_USE_TLS', 'EMAIL_USE_SSL', 'DEFAULT_FROM_EMAIL', 'DEBUG']}))"
)
_REQUEST_PASSWORD_RESET = (
    "from django.test import Client; client = Client(); "
    "print(json.dumps({'offered': 'admin/password_reset/' in client.get('/admin/login/').text, "
    "'status': client.post('/admin/password_reset/', {'email': 'alice@example.com'}).status_code}))"
)


def _manage(*arguments: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=_REPO, env=child_environment(**variables), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _settings(**variables: str) -> dict:
    result = _manage("shell", "-v0", "-c", _SETTINGS_AS_JSON, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("hosts", "origins"),
    [
        ("one.example.com two.example.com", "https://one.example.com https://two.example.com"),
        ("one.example.com, two.example.com", "https://one.example.com,https://two.example.com"),
        (" one.example.com,\ttwo.example.com ", "https://one.example.com , https://two.example.com"),
    ],
)
def test_hosts_and_trusted_origins_are_separated_by_spaces_or_commas(hosts, origins):
    values = _settings(SII_ALLOWED_HOSTS=hosts, SII_CSRF_TRUSTED_ORIGINS=origins)

    assert values["ALLOWED_HOSTS"][:2] == ["one.example.com", "two.example.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://one.example.com", "https://two.example.com"]


@pytest.mark.parametrize("keys", ["not-secret", "c2lpc3VyaXQtZGV2ZWxvcG1lbnQtb25seS1rZXktMDE= not-secret"])
def test_an_invalid_fernet_key_is_refused_at_start_in_one_line_naming_the_variable(keys):
    result = _manage("check", SII_FERNET_KEYS=keys)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Configuration error: SII_FERNET_KEYS: key number")
    assert "Fernet.generate_key()" in result.stderr
    assert "not-secret" not in result.stderr, "the message never shows the value"


def test_email_settings_come_from_the_sii_email_variables():
    values = _settings(
        SII_EMAIL_HOST="mail.example.com",
        SII_EMAIL_PORT="2525",
        SII_EMAIL_USERNAME="mailer",
        SII_EMAIL_PASSWORD="mail-password",
        SII_EMAIL_USE_SSL="true",
        SII_EMAIL_FROM="siisurit@example.com",
    )

    assert {key: value for key, value in values.items() if key.startswith(("EMAIL", "DEFAULT"))} == {
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "mail-password",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": True,
        "DEFAULT_FROM_EMAIL": "siisurit@example.com",
    }


def test_starttls_and_implicit_tls_exclude_each_other():
    result = _manage("check", SII_EMAIL_USE_TLS="true", SII_EMAIL_USE_SSL="true")

    assert result.returncode == 2
    assert "SII_EMAIL_USE_TLS" in result.stderr and "SII_EMAIL_USE_SSL" in result.stderr


@dataclass
class _MailServer:
    """Received messages and logins of an SMTP server on 127.0.0.1."""

    port: int
    messages: list = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # the name aiosmtpd calls
        self.messages.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"mail-password")


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key; the client trusts it through SSL_CERT_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_path, key_path


@pytest.fixture(params=["plain", "starttls", "implicit-tls"])
def mail_server(request, tmp_path) -> Iterator[tuple[_MailServer, dict[str, str]]]:
    """A real SMTP server with AUTH on 127.0.0.1, and the SII_EMAIL_* variables that point at it."""
    mode = request.param
    mail_server = _MailServer(port=free_port())
    variables = {"SII_EMAIL_USE_TLS": "false", "SII_EMAIL_USE_SSL": "false"}
    # Under STARTTLS the server offers AUTH only after the upgrade; an implicit-TLS server speaks nothing but TLS.
    options: dict = {"auth_require_tls": mode == "starttls", "authenticator": mail_server.authenticate}
    if mode != "plain":
        certificate, key = _self_signed_certificate(tmp_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate, key)
        options["ssl_context" if mode == "implicit-tls" else "tls_context"] = context
        variables["SSL_CERT_FILE"] = str(certificate)
        variables["SII_EMAIL_USE_SSL" if mode == "implicit-tls" else "SII_EMAIL_USE_TLS"] = "true"
    controller = Controller(mail_server, hostname="127.0.0.1", port=mail_server.port, **options)
    controller.start()
    try:
        yield mail_server, variables
    finally:
        controller.stop()


@pytest.mark.django_db(transaction=True)
def test_admin_password_reset_mail_goes_out_through_the_configured_smtp_server(mail_server):
    server, variables = mail_server
    make_user("alice", email="alice@example.com", password="old-password-1", is_staff=True)

    result = _manage(
        "shell",
        "-v0",
        "-c",
        f"import json; {_REQUEST_PASSWORD_RESET}",
        SII_ALLOWED_HOSTS="testserver",
        SII_EMAIL_HOST="127.0.0.1",
        SII_EMAIL_PORT=str(server.port),
        SII_EMAIL_USERNAME="mailer",
        SII_EMAIL_PASSWORD="mail-password",
        SII_EMAIL_FROM="siisurit@example.com",
        **variables,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"offered": True, "status": 302}
    assert server.logins == [("mailer", "mail-password")]
    [message] = server.messages
    assert (message.mail_from, message.rcpt_tos) == ("siisurit@example.com", ["alice@example.com"])
    text = message.content.decode()
    assert "Subject: Password reset on testserver" in text
    assert "http://testserver/reset/" in text


@pytest.mark.parametrize(("value", "threshold"), [("", 5), ("true", 5), ("false", None)])
def test_prepared_statements_are_on_unless_switched_off_for_a_pooler(value, threshold):
    command = "import json; from django.conf import settings as s; print(json.dumps(s.DATABASES['default']['OPTIONS']))"
    result = _manage("shell", "-v0", "-c", command, SII_POSTGRES_PREPARED_STATEMENTS=value)
    assert result.returncode == 0, result.stderr

    options = json.loads(result.stdout)

    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == threshold


@pytest.mark.parametrize(
    ("environment", "value", "debug"),
    [("local", "", True), ("local", "false", False), ("ci", "", False), ("ci", "true", True), ("stage", "", False)],
)
def test_debug_mode_is_on_locally_unless_switched_off_and_off_elsewhere_unless_switched_on(environment, value, debug):
    assert _settings(SII_ENVIRONMENT=environment, SII_DEBUG=value)["DEBUG"] is debug


def test_debug_mode_is_refused_in_production_in_one_line():
    result = _manage(
        "check",
        SII_ENVIRONMENT="production",
        SII_DEBUG="true",
        SII_SECRET_KEY="x" * 60,
        SII_FERNET_KEYS="c2lpc3VyaXQtZGV2ZWxvcG1lbnQtb25seS1rZXktMDE=",
        SII_POSTGRES_PASSWORD="x",
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Configuration error: SII_DEBUG must not be true in production")
