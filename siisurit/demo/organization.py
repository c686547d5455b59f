"""The demo organization: the users of `examples/demo-users.csv` and `examples/demo-organization.yaml`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from siisurit.demo.trackers import DEMO_SANDBOX_BASE_PORT, DEMO_SANDBOX_HOST, demo_tracker_variables
from siisurit.models import User
from siisurit.organization_config import ChangeSummary, organization_update
from siisurit.organization_config.users_csv import UsersImportSummary, users_import

DEMO_USERS_FILE = settings.BASE_DIR / "examples" / "demo-users.csv"
DEMO_ORGANIZATION_FILE = settings.BASE_DIR / "examples" / "demo-organization.yaml"
DEMO_ORGANIZATION_CODE = "demo"
DEMO_SUPERUSER_USERNAME = "admin"
DEMO_SUPERUSER_PASSWORD = "admin"  # noqa: S105  (demo only: created in the local environment alone)


@dataclass
class DemoOrganizationSummary:
    users: UsersImportSummary
    organization: ChangeSummary
    organization_path: Path
    dry_run: bool
    #: `DEMO_*` variables as used by the import: name -> (value, where it came from: "sandbox" or "environment")
    variables: dict[str, tuple[str, str]] = field(default_factory=dict)


def demo_variables_apply(
    *, host: str = DEMO_SANDBOX_HOST, base_port: int = DEMO_SANDBOX_BASE_PORT, override: bool = False
) -> dict[str, tuple[str, str]]:
    """Put the sandbox's `DEMO_*` values into `os.environ`, where the organization import resolves `${NAME}`.

    Values already set (in the environment or `.env`) are kept unless `override`, so the demo organization can
    point at other trackers. Returns name -> (value, "sandbox" | "environment").
    """
    applied = {}
    for name, value in demo_tracker_variables(host=host, base_port=base_port).items():
        configured = settings.ENV.lookup(name)
        if configured and not override:
            applied[name] = (configured, "environment")
            continue
        # The import reads `${NAME}` through settings.ENV.lookup, which looks at the live environment first.
        os.environ[name] = value
        applied[name] = (value, "sandbox")
    return applied


def demo_organization_make(
    *,
    host: str = DEMO_SANDBOX_HOST,
    base_port: int = DEMO_SANDBOX_BASE_PORT,
    override_variables: bool = False,
    users_path: Path | str = DEMO_USERS_FILE,
    organization_path: Path | str = DEMO_ORGANIZATION_FILE,
    dry_run: bool = False,
) -> DemoOrganizationSummary:
    """Create or update the demo users and the demo organization (idempotent; nothing written for `dry_run`).

    Raises UsersCsvError or OrganizationConfigError (their messages name file and line).
    """
    variables = demo_variables_apply(host=host, base_port=base_port, override=override_variables)
    # One transaction: the organization refers to the users, so a dry run must see the users it would create.
    with transaction.atomic():
        users = users_import(path=users_path)
        # The demo moves its trackers between sandbox ports with the sandbox's public tokens.
        organization = organization_update(path=organization_path, token_moves_allowed=True)
        if dry_run:
            transaction.set_rollback(True)
    users.dry_run = organization.dry_run = dry_run
    return DemoOrganizationSummary(
        users=users,
        organization=organization,
        organization_path=Path(organization_path),
        dry_run=dry_run,
        variables=variables,
    )


def demo_superuser_make(*, username: str = DEMO_SUPERUSER_USERNAME, password: str = DEMO_SUPERUSER_PASSWORD) -> bool:
    """Create the demo superuser unless a user of that name exists (its password is left alone); True if created.

    Only in the local environment: a well-known password must never reach a shared server.
    """
    if not settings.IS_LOCAL:
        raise ValueError(f"the demo superuser is only created in the local environment, not {settings.SII_ENVIRONMENT}")
    if User.objects.filter(username=username).exists():
        return False
    User.objects.create_superuser(username=username, email="", password=password)
    return True
