"""`-v0` (verbosity 0) is silent on success, in every command that does something (not only shows something)."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from siisurit.models import WorkEntry
from tests.factories import make_organization, make_project, make_user
from tests.organization_files import BASE_YAML, write_file
from tests.processes import child_environment, wait_for
from tests.test_demo import free_base_port

_REPO = Path(__file__).resolve().parent.parent
_SILENT_RUNS = {
    "make_users": lambda tmp_path: ["make_users", str(write_file(tmp_path, "username\ncarol\n", "users.csv"))],
    "make_users --dry-run": lambda tmp_path: [
        "make_users", str(write_file(tmp_path, "username\ncarol\n", "users.csv")), "--dry-run",
    ],
    "update_organization": lambda tmp_path: ["update_organization", str(write_file(tmp_path, BASE_YAML))],
    "update_organization --dry-run": lambda tmp_path: [
        "update_organization", str(write_file(tmp_path, BASE_YAML)), "--dry-run",
    ],
    "remove_organization": lambda tmp_path: ["remove_organization", "quiet", "--no-input"],
    "remove_organization --dry-run": lambda tmp_path: ["remove_organization", "quiet", "--dry-run", "--no-input"],
    "match_project": lambda tmp_path: ["match_project", "quiet", "--sync"],
    "update_project": lambda tmp_path: ["update_project", "quiet", "--sync"],
    "update_all_projects": lambda tmp_path: ["update_all_projects", "--sync"],
    "clear_caches": lambda tmp_path: ["clear_caches", "--sync"],
    "clear_caches --dry-run": lambda tmp_path: ["clear_caches", "--sync", "--dry-run"],
    "make_reports": lambda tmp_path: ["make_reports", "--sync"],
    "make_reports --dry-run": lambda tmp_path: ["make_reports", "--dry-run"],
    "clear_reports": lambda tmp_path: ["clear_reports", "--no-input"],
    "clear_reports --dry-run": lambda tmp_path: ["clear_reports", "--dry-run"],
    "ensure_database": lambda tmp_path: ["ensure_database"],
    "rotate_fernet_keys": lambda tmp_path: ["rotate_fernet_keys"],
    "rotate_fernet_keys --dry-run": lambda tmp_path: ["rotate_fernet_keys", "--dry-run"],
}  # fmt: skip


@pytest.mark.parametrize("run", _SILENT_RUNS, ids=list(_SILENT_RUNS))
def test_commands_are_silent_at_verbosity_0(run, tmp_path, transactional_db, token_environment):
    for username in ("alice", "bob"):
        make_user(username)
    make_project(make_organization(code="quiet"), code="app")
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command(*_SILENT_RUNS[run](tmp_path), verbosity=0, stdout=stdout, stderr=stderr)

    assert (stdout.getvalue(), stderr.getvalue()) == ("", "")


@pytest.mark.django_db
@pytest.mark.parametrize("dry_run", [False, True])
def test_make_report_user_is_silent_at_verbosity_0(dry_run):
    stdout, stderr = io.StringIO(), io.StringIO()
    with override_settings(SII_POSTGRES_REPORT_USERNAME="sii_quiet_reader", SII_POSTGRES_REPORT_PASSWORD="quiet-Z9"):
        call_command("make_report_user", *(["--dry-run"] if dry_run else []), verbosity=0, stdout=stdout, stderr=stderr)

    assert (stdout.getvalue(), stderr.getvalue()) == ("", "")


@pytest.mark.django_db(transaction=True)
def test_demo_is_silent_at_verbosity_0(restored_environ):
    with override_settings(SII_JOB_RUNNER="siisurit.jobs.InProcessJobRunner"):
        stdout, stderr = io.StringIO(), io.StringIO()
        call_command(
            "demo", f"--sandbox-port={free_base_port()}", "--tasks=5", "--entries=20", "--no-progress-bar",
            verbosity=0, stdout=stdout, stderr=stderr,
        )  # fmt: skip

    assert (stdout.getvalue(), stderr.getvalue()) == ("", "")
    assert WorkEntry.objects.count() > 0, "the demo ran"


def test_run_sandbox_is_silent_at_verbosity_0():
    base_port = free_base_port()
    ports = list(range(base_port, base_port + 6))
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "-v0", f"--ports={','.join(map(str, ports))}", "--tasks=2",
         "--entries=2"],
        cwd=_REPO, env=child_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # A sandbox that could not start ends at once: its output then tells why (asserted below).
        wait_for(lambda: process.poll() is not None or _accepts(ports[-1]), timeout=60, what="the sandbox listens")
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)

    assert (process.returncode, stdout, stderr) == (0, "", "")


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
