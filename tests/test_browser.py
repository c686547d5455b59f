"""Flower and the admin in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Never runs `playwright install`: without /usr/bin/chromium the tests skip. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from sandbox import SandboxTrackers
from siisurit.jobs import JobRequest, job_runner
from siisurit.models import User
from tests.factories import make_organization, make_project, make_tracker
from tests.processes import child_environment, free_port, wait_for
from tests.worker import SubprocessWorker, release, wait_until_started

pytestmark = [pytest.mark.browser, pytest.mark.worker]

_REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
FLOWER_USER, FLOWER_PASSWORD = "flower-tester", "flower-test-password"
START_TIMEOUT_SECONDS = 60.0
#: Where a failing browser test leaves screenshots of its pages (ignored by git, like all of .siisurit/).
SCREENSHOT_DIR = _REPO / ".siisurit" / "test" / "screenshots"


@contextmanager
def screenshots_on_failure(name: str, *pages: object) -> Iterator[None]:
    """On a failure inside, save a full-page screenshot of each page and name the files in the failure."""
    try:
        yield
    except BaseException as error:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, page in enumerate(pages):
            path = SCREENSHOT_DIR / f"{name}-{index}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                paths.append(str(path))
            except Exception as screenshot_error:  # a closed page: the original failure matters more
                paths.append(f"(no screenshot: {screenshot_error})")
        error.add_note(f"screenshots: {', '.join(paths)}")
        raise


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install chromium); the browser tests need it")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls of the tests are still
    # synchronous, so Django's guard against ORM use from async code does not apply (Playwright's advice for Django).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class FlowerProcess:
    """`celery -A workers flower` on a free loopback port, on the test Redis, with basic auth from its environment."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = child_environment(SII_FLOWER_BASIC_AUTH=f"{FLOWER_USER}:{FLOWER_PASSWORD}")
        command = [
            sys.executable, "-m", "celery", "-A", "workers", "flower", "--conf=workers/flower_config.py",
            "--address=127.0.0.1", f"--port={self.port}", "--persistent=False",
        ]  # fmt: skip
        self.log = tempfile.NamedTemporaryFile(prefix="siisurit-flower-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=_REPO, env=environment, start_new_session=True, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def api(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=5)

    def wait_ready(self) -> None:
        """Return once Flower answers HTTP (it connects to the broker before it listens)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Flower exited with {self.process.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)  # nothing to await: the port opens when Flower listens
        raise TimeoutError(f"Flower did not listen within {START_TIMEOUT_SECONDS} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log.close()


def run_counting_job() -> str:
    """A small job through the queue (the worker includes tests.worker's test-only jobs); its id once done."""
    handle = job_runner().start(JobRequest("test_counting", {"key": uuid.uuid4().hex}))
    outcome = handle.wait(timeout=30)
    assert outcome.ok, outcome.error
    return outcome.job_id


def await_task_in_flower(flower: FlowerProcess) -> str:
    """Run jobs until Flower's event stream has recorded one (Flower subscribes to events after it listens)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        job_id = run_counting_job()
        tasks = flower.api("/api/tasks?limit=50")
        tasks.raise_for_status()
        if job_id in tasks.json():
            return job_id
    raise TimeoutError(f"Flower recorded none of the jobs within {START_TIMEOUT_SECONDS} s:\n{flower.output()}")


@pytest.fixture
def flower(clean_queues, transactional_db) -> Iterator[FlowerProcess]:
    process = FlowerProcess()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_flower_shows_the_jobs_and_the_worker_only_with_credentials(browser, flower):
    with SubprocessWorker() as worker:
        job_id = await_task_in_flower(flower)

        # Without credentials Flower answers 401 (a headless browser turns that page into a navigation error,
        # so the anonymous request goes through the browser context's HTTP client).
        anonymous = browser.new_context()
        try:
            for path in ("/", "/tasks", "/api/tasks"):
                response = anonymous.request.get(f"{flower.url}{path}")
                assert response.status == 401, path
        finally:
            anonymous.close()

        context = browser.new_context(http_credentials={"username": FLOWER_USER, "password": FLOWER_PASSWORD})
        try:
            page = context.new_page()
            response = page.goto(f"{flower.url}/tasks")
            assert response.status == 200
            page.get_by_text(job_id).first.wait_for(timeout=15_000)
            page.get_by_text("tests.worker.test_counting").first.wait_for(timeout=15_000)

            response = page.goto(f"{flower.url}/workers")
            assert response.status == 200
            page.get_by_text(worker.name).first.wait_for(timeout=15_000)
        finally:
            context.close()


@pytest.mark.filterwarnings("ignore:No directory at:UserWarning")  # whitenoise: static files are not collected here
def test_admin_login_shows_an_organization_made_by_the_test(browser, live_server, transactional_db):
    password = f"pw-{uuid.uuid4().hex}"
    User.objects.create_superuser(username="browser-admin", email="browser-admin@example.com", password=password)
    make_organization(code="browser-org", name="Browser Test Organization")

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/")
        assert "/admin/login/" in page.url
        page.fill("#id_username", "browser-admin")
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.get_by_text("Site administration").first.wait_for(timeout=15_000)

        page.goto(f"{live_server.url}/admin/siisurit/organization/")
        page.get_by_text("Browser Test Organization").first.wait_for(timeout=15_000)
        assert page.get_by_text("browser-org").count() >= 1
    finally:
        context.close()


def admin_login(page: object, url: str) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    username = f"operator-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username=username, email=f"{username}@example.com", password=password)
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.get_by_text("Site administration").first.wait_for(timeout=15_000)


@pytest.mark.filterwarnings("ignore:No directory at:UserWarning")  # whitenoise: static files are not collected here
def test_an_update_through_the_queue_shows_its_project_in_flower_and_its_failing_tracker_in_the_admin(
    browser, flower, live_server
):
    with SandboxTrackers(seed=5, task_count={"github": 20}, entry_count={"kimai": 0, "clockodo": 0}) as sandbox:
        project = make_project(make_organization("browser-acme"), "webshop")
        github = {"api_kind": "github", "api_location": sandbox.api_location("github")}
        make_tracker(project, "webshop-github", api_token=sandbox.token("github"), **github)
        make_tracker(project, "webshop-github-old-token", api_token="revoked-token-of-the-test", **github)
        with SubprocessWorker():
            await_task_in_flower(flower)
            outcome = (
                job_runner().start(JobRequest("update_project", {"project_id": str(project.id)})).wait(timeout=120)
            )
    assert outcome.state == "FAILURE" and "webshop-github-old-token" in outcome.error, outcome

    flower_context = browser.new_context(http_credentials={"username": FLOWER_USER, "password": FLOWER_PASSWORD})
    admin_context = browser.new_context()
    try:
        flower_page, admin_page = flower_context.new_page(), admin_context.new_page()
        with screenshots_on_failure("update-in-flower-and-admin", flower_page, admin_page):
            flower_page.goto(f"{flower.url}/tasks")
            row = flower_page.locator("tr", has_text=outcome.job_id).first
            row.wait_for(timeout=15_000)
            assert "browser-acme/webshop" in row.inner_text()
            assert "FAILURE" in row.inner_text()

            admin_login(admin_page, live_server.url)
            admin_page.goto(f"{live_server.url}/admin/siisurit/tracker/")
            failing = admin_page.locator("tr", has_text="webshop-github-old-token").first
            failing.locator(".last-download-failed").wait_for(timeout=15_000)
            assert "HTTP 401" in failing.inner_text()
            healthy = admin_page.locator("tr", has=admin_page.locator("th a", has_text="webshop-github")).filter(
                has_not_text="old-token"
            )
            assert healthy.locator(".last-download-failed").count() == 0
            assert "succeeded" in healthy.first.inner_text()
    finally:
        flower_context.close()
        admin_context.close()


def test_flower_shows_a_running_jobs_progress(browser, flower):
    with SubprocessWorker():
        await_task_in_flower(flower)
        handle = job_runner().start(JobRequest("test_counting", {"key": "flower-progress", "hold_seconds": 60}))
        context = browser.new_context(http_credentials={"username": FLOWER_USER, "password": FLOWER_PASSWORD})
        try:
            wait_until_started("flower-progress")
            page = context.new_page()
            with screenshots_on_failure("progress-in-flower", page):

                def shows_progress() -> bool:  # the page is rendered once: load it until the event has arrived
                    page.goto(f"{flower.url}/task/{handle.job_id}")
                    return page.get_by_text("0/2 holding").count() > 0

                wait_for(shows_progress, timeout=15, interval=0.5, what="the job's progress in Flower")
                assert "PROGRESS" in page.inner_text("body")
        finally:
            release("flower-progress")
            context.close()
        assert handle.wait(timeout=30).ok
