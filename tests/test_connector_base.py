"""Shared connector HTTP: failure classification, secrets in messages, URL checks and every pagination style."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from sandbox import SandboxTrackers
from siisurit.connectors.base import (
    HttpClient,
    aware_utc,
    hours_from_seconds,
    link_pages,
    numbered_pages,
    paging_pages,
    skip_top_pages,
    start_at_pages,
    token_pages,
)
from siisurit.connectors.http import ensure_allowed_url, redact, retry_after_seconds
from siisurit.errors import PermanentError, TransientError
from siisurit.retry_policy import NO_RETRIES, RequestPolicy
from tests.processes import QuietHandler, loopback_http_server


@pytest.fixture(scope="module")
def sandbox():
    with SandboxTrackers(seed=11, task_count=120, entry_count=260, merge_request_count=10) as trackers:
        yield trackers


@pytest.fixture(autouse=True)
def _clean_sandbox(sandbox):
    sandbox.clear_faults()
    sandbox.set_latency(0)
    sandbox.reset_stats()


def client_for(sandbox, kind: str, **options) -> HttpClient:
    token = sandbox.token(kind)
    headers = {
        "github": {"Authorization": f"Bearer {token}"},
        "gitlab": {"PRIVATE-TOKEN": token},
        "youtrack": {"Authorization": f"Bearer {token}"},
        "kimai": {"Authorization": f"Bearer {token}"},
        "jira": {"Authorization": "Basic " + base64.b64encode(f"{sandbox.username(kind)}:{token}".encode()).decode()},
        "clockodo": {
            "X-ClockodoApiUser": sandbox.username(kind),
            "X-ClockodoApiKey": token,
            "X-Clockodo-External-Application": "Siisurit tests;test@example.com",
            "X-ClockodoEnableIsoUtcDateTimes": "1",
        },
    }[kind]
    options.setdefault("policy", NO_RETRIES)  # one request per call; retries in place: tests/test_retry_in_place.py
    return HttpClient(label=f"{kind} tracker 'test'", headers=headers, secrets=[token], **options)


def issues_url(sandbox) -> str:
    return f"{sandbox.base_url('github')}/repos/acme/webshop/issues"


# --- pure helpers --------------------------------------------------------------------------------------------------


def test_redact_hides_credentials_in_urls():
    redacted = redact("failed for https://alice:ghp_s3cret@ghe.example.com/acme/webshop", [])
    assert "ghp_s3cret" not in redacted and "alice" not in redacted
    assert "https://***@ghe.example.com/acme/webshop" in redacted


def test_redact_hides_secrets_and_secret_query_parameters():
    text = "GET https://x/api?private_token=abc123&page=2 failed with token s3cr3t-value"
    redacted = redact(text, ["s3cr3t-value"])
    assert "abc123" not in redacted and "s3cr3t-value" not in redacted
    assert "page=2" in redacted


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.github.com/repos", True),
        ("http://127.0.0.1:8000/api", True),
        ("http://127.5.5.5/api", True),
        ("http://localhost:9/api", True),
        ("http://[::1]:9/api", True),
        ("http://api.github.com/repos", False),
        ("http://10.0.0.1/api", False),
        ("ftp://example.com/x", False),
    ],
)
def test_plain_http_only_for_loopback(url, allowed):
    if allowed:
        ensure_allowed_url(url, "tracker 'x'")
    else:
        with pytest.raises(PermanentError, match="tracker 'x'"):
            ensure_allowed_url(url, "tracker 'x'")


def test_retry_after_from_seconds_date_and_reset_headers():
    assert retry_after_seconds({"Retry-After": "12"}) == 12
    in_a_minute = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= retry_after_seconds({"Retry-After": in_a_minute}) <= 60
    reset = str(int(datetime.now(tz=UTC).timestamp()) + 30)
    assert 25 <= retry_after_seconds({"x-ratelimit-reset": reset}) <= 30
    jira_reset = (datetime.now(tz=UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%MZ")
    assert 0 < retry_after_seconds({"x-ratelimit-reset": jira_reset}) <= 120
    assert retry_after_seconds({}) is None


def test_time_and_estimate_conversion():
    assert aware_utc("2021-01-17T12:34:00.000+0200") == datetime(2021, 1, 17, 10, 34, tzinfo=UTC)
    assert aware_utc("2020-03-27T14:35:00+1300") == datetime(2020, 3, 27, 1, 35, tzinfo=UTC)
    assert aware_utc("2024-05-02T07:00:00Z") == datetime(2024, 5, 2, 7, tzinfo=UTC)
    assert str(hours_from_seconds(5400)) == "1.50"
    assert hours_from_seconds(None) is None


# --- failure classification ------------------------------------------------------------------------------------------


def test_wrong_token_is_permanent_without_token_in_message(sandbox):
    client = HttpClient(
        label="github tracker 'shop'", headers={"Authorization": "Bearer nope-1234"}, secrets=["nope-1234"]
    )
    with pytest.raises(PermanentError) as error_info:
        client.get(issues_url(sandbox))
    message = str(error_info.value)
    assert "github tracker 'shop'" in message and "HTTP 401" in message and "Bad credentials" in message
    assert "nope-1234" not in message


def test_not_found_is_permanent_with_hint(sandbox):
    with pytest.raises(PermanentError, match=r"HTTP 404.*api_location"):
        client_for(sandbox, "github").get(f"{sandbox.base_url('github')}/repos/acme/missing/issues")


def test_forbidden_without_rate_limit_is_permanent(sandbox):
    sandbox.inject("kimai", status=403)
    with pytest.raises(PermanentError, match="HTTP 403"):
        client_for(sandbox, "kimai").get(f"{sandbox.base_url('kimai')}/api/timesheets", {"project": 1})


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_throttling_and_server_errors_are_transient(sandbox, status):
    sandbox.inject("kimai", status=status, retry_after=5)
    with pytest.raises(TransientError, match=f"HTTP {status}") as error_info:
        client_for(sandbox, "kimai").get(f"{sandbox.base_url('kimai')}/api/timesheets", {"project": 1})
    assert error_info.value.retry_after == 5


def test_github_primary_rate_limit_waits_until_reset(sandbox):
    sandbox.inject("github", fault="rate_limit", reset_in=90)
    with pytest.raises(TransientError) as error_info:
        client_for(sandbox, "github").get(issues_url(sandbox))
    assert 80 <= error_info.value.retry_after <= 91


def test_secondary_rate_limit_without_retry_after_waits_a_minute(sandbox):
    sandbox.inject("github", fault="secondary_rate_limit")
    with pytest.raises(TransientError) as error_info:
        client_for(sandbox, "github").get(issues_url(sandbox))
    assert error_info.value.retry_after == 60


def test_truncated_json_is_permanent(sandbox):
    sandbox.inject("youtrack", fault="truncate")
    with pytest.raises(PermanentError, match="malformed JSON"):
        client_for(sandbox, "youtrack").get(f"{sandbox.base_url('youtrack')}/api/issues", {"query": "project: DEMO"})


def test_incomplete_body_is_retried_in_place_then_transient(sandbox):
    client = client_for(sandbox, "youtrack", policy=RequestPolicy(attempts=2, backoff=0))
    url = f"{sandbox.base_url('youtrack')}/api/issues"
    sandbox.inject("youtrack", fault="incomplete")
    assert isinstance(client.get(url, {"query": "project: DEMO"}).data, list)
    assert client.request_count == 2
    sandbox.inject("youtrack", fault="incomplete", count=2)
    with pytest.raises(TransientError, match="connection"):
        client.get(url, {"query": "project: DEMO"})


def test_timeout_is_transient(sandbox):
    sandbox.set_latency(600, kind="gitlab")
    client = client_for(sandbox, "gitlab", timeout=(1, 0.2))
    with pytest.raises(TransientError, match=r"no answer within 0\.2 s \(127\.0\.0\.1:\d+\)"):
        client.get(f"{sandbox.base_url('gitlab')}/api/v4/projects/42/issues")


def test_connection_refused_is_transient_and_hides_token_in_url():
    client = HttpClient(label="gitlab tracker 'x'", secrets=["glpat-hidden"], policy=NO_RETRIES)
    with pytest.raises(TransientError, match=r"connection refused \(127\.0\.0\.1:9\)") as error_info:
        client.get("http://127.0.0.1:9/api/v4/projects", {"private_token": "glpat-hidden"})
    assert "glpat-hidden" not in str(error_info.value)


# --- pagination ------------------------------------------------------------------------------------------------------


def _all_items(pages, key=None, cache=None):
    items = []
    for page in pages:
        items += page.items
        entry = page.cache_entry([str(item[key] if key else item) for item in page.items])
        if cache is not None and entry:
            cache.store_pages([entry])
    return items


def test_link_pages_follow_rel_next(sandbox):
    client = client_for(sandbox, "github")
    items = _all_items(link_pages(client, issues_url(sandbox), {"state": "all", "per_page": 50}), "id")
    issues = [item for item in items if "pull_request" not in item]
    assert len(issues) == 120 and len({item["id"] for item in items}) == len(items) > 120
    assert client.request_count == -(-len(items) // 50)


def test_link_pages_answer_304_with_cached_ids_and_next_page(sandbox):
    from siisurit.downloads.cache import DownloadCache, download_cache_client

    cache = DownloadCache(download_cache_client(), f"test-{datetime.now(tz=UTC).timestamp()}")
    try:
        first = client_for(sandbox, "github", cache=cache)
        pages = link_pages(first, issues_url(sandbox), {"state": "all"})
        ids = [item["id"] for item in _all_items(pages, "id", cache)]
        second = client_for(sandbox, "github", cache=cache)
        pages = list(link_pages(second, issues_url(sandbox), {"state": "all"}))
        assert all(page.not_modified for page in pages)
        assert [int(item) for page in pages for item in page.cached_ids] == ids
        assert second.not_modified_count == second.request_count == first.request_count == -(-len(ids) // 30)
    finally:
        cache.clear()


def test_numbered_pages_by_x_next_page(sandbox):
    client = client_for(sandbox, "gitlab")
    url = f"{sandbox.base_url('gitlab')}/api/v4/projects/acme%2Fwebshop/issues"
    assert len(_all_items(numbered_pages(client, url, per_page=50), "id")) == 120
    assert client.request_count == 3


def test_numbered_pages_by_x_total_pages_never_ask_past_the_end(sandbox):
    client = client_for(sandbox, "kimai")
    url = f"{sandbox.base_url('kimai')}/api/timesheets"
    params = {"project": 1, "user": "all"}
    items = _all_items(numbered_pages(client, url, params, per_page=100, size_param="size"), "id")
    assert len(items) == len(sandbox.entry_ids("kimai"))
    assert sandbox.stats["kimai"]["statuses"].get(404, 0) == 0


def test_skip_top_pages_stop_on_short_page(sandbox):
    client = client_for(sandbox, "youtrack")
    url = f"{sandbox.base_url('youtrack')}/api/issues"
    pages = skip_top_pages(client, url, {"query": "project: DEMO", "fields": "id,idReadable"}, top=50)
    assert len(_all_items(pages, "id")) == 120
    assert client.request_count == 3


def test_start_at_pages_until_total(sandbox):
    client = client_for(sandbox, "jira")
    url = f"{sandbox.base_url('jira')}/rest/api/2/search"
    pages = start_at_pages(client, url, {"jql": "project = SHOP"}, items_key="issues", max_results=50)
    assert len(_all_items(pages, "id")) == 120
    assert client.request_count == 3


def test_token_pages_until_is_last(sandbox):
    client = client_for(sandbox, "jira")
    url = f"{sandbox.base_url('jira')}/rest/api/3/search/jql"
    pages = token_pages(
        client, url, {"jql": "project = SHOP ORDER BY created ASC", "maxResults": 50}, items_key="issues"
    )
    assert len(_all_items(pages, "id")) == 120
    assert client.request_count == 3


def test_paging_pages_until_count_pages(sandbox):
    client = client_for(sandbox, "clockodo")
    url = f"{sandbox.base_url('clockodo')}/api/v2/entries"
    params = {
        "time_since": "2000-01-01T00:00:00Z",
        "time_until": "2100-01-01T00:00:00Z",
        "filter[projects_id]": 123,
    }
    items = _all_items(paging_pages(client, url, params, items_key="entries"), "id")
    assert len(items) == len(sandbox.entry_ids("clockodo"))
    assert client.request_count == -(-len(items) // 50)


LATER_PAGE_LISTINGS = {
    "link": lambda sandbox, client: link_pages(client, issues_url(sandbox), {"per_page": 20}),
    "numbered": lambda sandbox, client: numbered_pages(
        client, f"{sandbox.base_url('gitlab')}/api/v4/projects/acme%2Fwebshop/issues", per_page=20
    ),
    "skip_top": lambda sandbox, client: skip_top_pages(
        client, f"{sandbox.base_url('youtrack')}/api/issues", {"query": "project: DEMO", "fields": "id"}, top=20
    ),
    "start_at": lambda sandbox, client: start_at_pages(
        client,
        f"{sandbox.base_url('jira')}/rest/api/2/search",
        {"jql": "project = SHOP"},
        items_key="issues",
        max_results=20,
    ),
    "token": lambda sandbox, client: token_pages(
        client,
        f"{sandbox.base_url('jira')}/rest/api/3/search/jql",
        {"jql": "project = SHOP", "maxResults": 20},
        items_key="issues",
    ),
}
LATER_PAGE_KINDS = {"link": "github", "numbered": "gitlab", "skip_top": "youtrack", "start_at": "jira", "token": "jira"}


@pytest.mark.parametrize("style", sorted(LATER_PAGE_LISTINGS))
def test_a_later_page_failing_names_the_page_and_does_not_blame_the_configuration(sandbox, style):
    kind = LATER_PAGE_KINDS[style]
    client = client_for(sandbox, kind)
    sandbox.inject(kind, status=404, every=2, count=1)
    pages = LATER_PAGE_LISTINGS[style](sandbox, client)
    assert next(pages).items
    with pytest.raises(PermanentError) as error_info:
        next(pages)
    message = str(error_info.value)
    assert "HTTP 404" in message and "(page 2)" in message
    assert "api_location" not in message and "refused page 2 after sending the pages before it" in message


def test_wrong_items_shape_is_permanent(sandbox):
    client = client_for(sandbox, "github")
    with pytest.raises(PermanentError, match="expected an object with a list 'issues'"):
        list(link_pages(client, issues_url(sandbox), items_key="issues"))


# --- redirects -------------------------------------------------------------------------------------------------------


@pytest.fixture
def redirecting_server():
    """A loopback server: /same → /target on the same host, /elsewhere → 127.0.0.2, /target → JSON."""

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.0"  # a connection per request

        def do_GET(self):
            port = self.server.server_address[1]
            targets = {"/same": f"http://127.0.0.1:{port}/target", "/elsewhere": f"http://127.0.0.2:{port}/target"}
            if self.path == "/secondary":
                body = b'{"message": "You have exceeded a secondary rate limit. Please wait."}'
                self.answer(429, body, {"x-ratelimit-remaining": "4000"})
            elif self.path == "/foreign-next":
                self.answer(200, b"[]", {"Link": f'<http://127.0.0.2:{port}/target?page=2>; rel="next"'})
            elif self.path in targets:
                self.answer(301, headers={"Location": targets[self.path]})
            else:
                body = json.dumps({"token_seen": self.headers.get("PRIVATE-TOKEN")}).encode()
                self.answer(200, body, {"Content-Type": "application/json"})

    with loopback_http_server(Handler) as base_url:
        yield base_url


def test_follows_redirects_on_the_same_host(redirecting_server):
    client = HttpClient(label="gitlab tracker 'x'", headers={"PRIVATE-TOKEN": "glpat-secret"}, policy=NO_RETRIES)
    response = client.get(f"{redirecting_server}/same")
    assert response.data == {"token_seen": "glpat-secret"}


def test_refuses_redirects_to_another_host(redirecting_server):
    headers = {"PRIVATE-TOKEN": "glpat-secret"}
    client = HttpClient(label="gitlab tracker 'x'", headers=headers, secrets=["glpat-secret"], policy=NO_RETRIES)
    with pytest.raises(PermanentError, match="redirects to another host"):
        client.get(f"{redirecting_server}/elsewhere")


def test_secondary_rate_limit_429_without_retry_after_waits_a_minute(redirecting_server):
    client = HttpClient(label="github tracker 'x'", headers={"Authorization": "Bearer ghp_secret"}, policy=NO_RETRIES)
    with pytest.raises(TransientError, match="HTTP 429") as error_info:
        client.get(f"{redirecting_server}/secondary")
    assert error_info.value.retry_after == 60


def test_link_pages_refuse_a_next_page_on_another_host(redirecting_server):
    client = HttpClient(label="github tracker 'x'", headers={"Authorization": "Bearer ghp_secret"}, policy=NO_RETRIES)
    with pytest.raises(PermanentError, match="another host"):
        list(link_pages(client, f"{redirecting_server}/foreign-next", conditional=False))
