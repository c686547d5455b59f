"""`manage.py demo` and `make_demo_organization`: the main job end to end on the sandbox trackers, idempotently."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from sandbox import KINDS, SandboxTrackers
from siisurit.demo.organization import DEMO_ORGANIZATION_FILE, demo_superuser_make
from siisurit.demo.summary import organization_summary
from siisurit.demo.trackers import demo_sandbox_ports, demo_tracker_variables
from siisurit.models import Organization, Project, Task, Tracker, User, WorkEntry
from tests.processes import child_environment, free_ports

_REPO = Path(__file__).resolve().parent.parent
# Small sandbox data: the demo's flow is what is tested here, the volume is the benchmarks' business.
_TASKS, _ENTRIES = 40, 300


def free_base_port() -> int:
    """A port P with P … P+5 free on 127.0.0.1 (not the demo's default 18801, which a developer may be using)."""
    return free_ports(len(KINDS))


def run_demo(base_port: int, *args: str) -> str:
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        call_command(
            "demo", f"--sandbox-port={base_port}", f"--tasks={_TASKS}", f"--entries={_ENTRIES}", "--no-progress-bar",
            *args, stdout=stdout, stderr=stderr,
        )  # fmt: skip
    except CommandError as error:
        raise CommandError(f"{error}\n--- stdout:\n{stdout.getvalue()}\n--- stderr:\n{stderr.getvalue()}") from None
    return stdout.getvalue()


def run_demo_subprocess(base_port: int) -> subprocess.CompletedProcess:
    """`manage.py demo` as `make demo` runs it, with the test database and Redis of this test session."""
    environment = child_environment()
    return subprocess.run(
        [sys.executable, "manage.py", "demo", f"--sandbox-port={base_port}", f"--tasks={_TASKS}",
         f"--entries={_ENTRIES}", "--no-progress-bar"],
        cwd=_REPO, env=environment, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def row_counts() -> dict[str, int]:
    return {
        "organizations": Organization.objects.count(),
        "projects": Project.objects.count(),
        "trackers": Tracker.objects.count(),
        "tasks": Task.objects.count(),
        "work_entries": WorkEntry.objects.count(),
        "users": User.objects.count(),
    }


def summary_figures(output: str, label: str) -> list[str]:
    """The values printed after `label:` in the demo's summary, one per project."""
    return re.findall(rf"^  {re.escape(label)}:\s+(\S+)", output, flags=re.MULTILINE)


def organization_without_catch_all(tmp_path: Path) -> Path:
    """The demo organization whose mobile app has no `always_to_task` rule, so some work stays unmatched."""
    data = yaml.safe_load(DEMO_ORGANIZATION_FILE.read_text(encoding="utf-8"))
    for project in data["organization"]["projects"]:
        if project["code"] != "mobile-app":
            continue
        for tracker in project["trackers"]:
            matches = tracker.get("work_matches") or []
            tracker["work_matches"] = [match for match in matches if match["match_on"] != "always_to_task"]
    path = tmp_path / "demo-organization-without-catch-all.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_demo_locations_agree_with_the_sandbox():
    base_port = free_base_port()
    variables = demo_tracker_variables(host="127.0.0.1", base_port=base_port)
    with SandboxTrackers(ports=demo_sandbox_ports(base_port=base_port), task_count=1, entry_count=1) as sandbox:
        for kind in KINDS:
            prefix = f"DEMO_{kind.upper()}"
            assert variables[f"{prefix}_LOCATION"] == sandbox.api_location(kind)
            assert variables[f"{prefix}_TOKEN"] == sandbox.token(kind)
            assert variables[f"{prefix}_USERNAME"] == sandbox.username(kind)


def test_demo_organization_file_uses_only_variables_the_demo_sets_with_the_sandbox_as_default():
    defaults = dict(re.findall(r"\$\{(\w+):-([^}]*)\}", DEMO_ORGANIZATION_FILE.read_text(encoding="utf-8")))
    assert defaults
    variables = demo_tracker_variables()
    assert defaults == {name: variables[name] for name in defaults}


@pytest.mark.django_db
def test_make_demo_organization_dry_run_writes_nothing_and_reruns_change_nothing(restored_environ):
    stdout = io.StringIO()
    call_command("make_demo_organization", "--dry-run", stdout=stdout)
    assert "Dry run: nothing was written." in stdout.getvalue()
    assert "would create tracker 'webshop/webshop-github'" in stdout.getvalue()
    assert not Organization.objects.exists()
    assert not User.objects.filter(username="alice").exists()

    call_command("make_demo_organization", stdout=io.StringIO())
    counts = row_counts()
    stdout = io.StringIO()
    call_command("make_demo_organization", stdout=stdout)
    assert "Demo organization 'demo' is up to date." in stdout.getvalue()
    assert row_counts() == counts
    assert counts["organizations"] == 1
    assert counts["trackers"] == 4
    github = Tracker.objects.get(name="webshop-github")
    assert github.api_location == "http://127.0.0.1:18801/acme/webshop"
    assert github.api_token.reveal() == demo_tracker_variables()["DEMO_GITHUB_TOKEN"]


@pytest.mark.django_db
def test_make_demo_organization_keeps_configured_variables_unless_the_sandbox_is_named(restored_environ):
    os.environ["DEMO_KIMAI_LOCATION"] = "http://127.0.0.1:9/en/admin/project/7/details"
    call_command("make_demo_organization", stdout=io.StringIO())
    assert Tracker.objects.get(name="webshop-kimai").api_location == "http://127.0.0.1:9/en/admin/project/7/details"

    call_command("make_demo_organization", "--sandbox-port=30001", stdout=io.StringIO())
    assert Tracker.objects.get(name="webshop-kimai").api_location == "http://127.0.0.1:30005/en/admin/project/1/details"


def test_make_demo_organization_help_documents_the_defaults(capsys):
    with pytest.raises(SystemExit):
        call_command("make_demo_organization", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "18801" in text
    assert "examples/demo-users.csv" in text


def test_demo_refuses_ports_taken_by_something_else(restored_environ):
    base_port = free_base_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base_port + 4))
        squatter.listen()
        with pytest.raises(CommandError, match=rf"kimai {base_port + 4} .* taken by something other"):
            run_demo(base_port)
    with pytest.raises(CommandError, match="loopback addresses only"):
        run_demo(base_port, "--sandbox-host=192.0.2.1")


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_demo_runs_the_main_job_through_a_worker_and_again_without_duplicates(clean_queues, restored_environ, tmp_path):
    base_port = free_base_port()
    # First as `make demo` runs it: a process of its own that starts (and stops) its own sandbox trackers.
    first = run_demo_subprocess(base_port)
    assert first.returncode == 0, first.stderr
    output = first.stdout

    assert "Summary of organization 'demo'" in output
    assert "(started)" in output
    assert re.search(r"worker demo-\d+@\S+ \(pid \d+\) answers", output)
    projects = {project.code: project for project in organization_summary(organization_code="demo")}
    assert set(projects) == {"webshop", "mobile-app"}
    for project in projects.values():
        assert project.tasks > _TASKS  # downloaded issues (and pull requests) plus the declared tasks
        assert project.work_entries == _ENTRIES
        assert project.matched_hours > 0
        assert project.matched_entries + project.unmatched_entries == project.work_entries
        assert len(project.top_tasks) == 5
    ordered = [projects["mobile-app"], projects["webshop"]]
    assert summary_figures(output, "tasks") == [str(project.tasks) for project in ordered]
    assert summary_figures(output, "work entries") == [str(project.work_entries) for project in ordered]
    assert summary_figures(output, "matched hours") == [str(project.matched_hours) for project in ordered]
    assert summary_figures(output, "unmatched hours") == [str(project.unmatched_hours) for project in ordered]
    assert "http://127.0.0.1:5555" in output
    assert "http://127.0.0.1:8000/admin/" in output
    assert "report.unmatched_work" in output
    assert "python manage.py explain_work_entry --id " in output
    if settings.IS_LOCAL:
        admin = User.objects.get(username="admin")
        assert admin.is_superuser
        assert admin.check_password("admin")
    else:  # the well-known demo password never reaches a non-local database
        assert not User.objects.filter(username="admin").exists()
    # Everything it started is stopped: the sandbox ports are free again.
    assert ports_are_free(base_port)
    counts = row_counts()

    # Again, in this process, with sandbox trackers already running (as under `make up`): the demo uses them.
    # Without the catch-all rule, work on no known task stays unmatched, and the summary shows its hours.
    with SandboxTrackers(
        ports=demo_sandbox_ports(base_port=base_port), task_count=_TASKS, entry_count=_ENTRIES
    ) as sandbox:
        second = run_demo(base_port, f"--organization-file={organization_without_catch_all(tmp_path)}")
        assert "reusing the ones already running" in second
        assert sandbox.stats["clockodo"]["requests"] > 0
    assert row_counts() == counts
    assert summary_figures(second, "tasks") == summary_figures(output, "tasks")
    mobile_app = {project.code: project for project in organization_summary(organization_code="demo")}["mobile-app"]
    assert mobile_app.unmatched_entries > 0
    assert mobile_app.unmatched_hours > Decimal(0)
    assert summary_figures(second, "unmatched hours")[0] == str(mobile_app.unmatched_hours)


def ports_are_free(base_port: int) -> bool:
    for port in range(base_port, base_port + len(KINDS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@pytest.mark.django_db
def test_demo_superuser_exists_only_in_the_local_environment():
    with override_settings(IS_LOCAL=False, SII_ENVIRONMENT="stage"), pytest.raises(ValueError, match="local"):
        demo_superuser_make()
    assert not User.objects.filter(username="admin").exists()

    with override_settings(IS_LOCAL=True, SII_ENVIRONMENT="local"):
        assert demo_superuser_make() is True
        User.objects.filter(username="admin").update(email="kept@example.com")
        assert demo_superuser_make() is False
    assert User.objects.get(username="admin").email == "kept@example.com"
