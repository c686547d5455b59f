"""Sandbox trackers: each imitated API's auth, paging signals, formats, faults, determinism and mutations."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests

from sandbox import KINDS, SandboxTrackers
from sandbox.cli import parse_ports

TASKS = 57
ENTRIES = 333
TIMEOUT = 10


@pytest.fixture(scope="module")
def sandbox():
    with SandboxTrackers(seed=7, task_count=TASKS, entry_count=ENTRIES) as trackers:
        yield trackers


@pytest.fixture
def shared(sandbox):
    """The module's sandbox with faults, latency and statistics reset after each test."""
    sandbox.reset_stats()
    yield sandbox
    sandbox.clear_faults()
    sandbox.set_latency(0)
    sandbox.reset_stats()


@pytest.fixture
def fresh():
    """A sandbox of its own, for tests that change data upstream."""
    with SandboxTrackers(seed=3, task_count=12, entry_count=40) as trackers:
        yield trackers


def github_get(sandbox, path, token=None, **kwargs):
    headers = {
        "Authorization": f"Bearer {token or sandbox.token('github')}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    } | kwargs.pop("headers", {})
    return requests.get(sandbox.base_url("github") + path, headers=headers, timeout=TIMEOUT, **kwargs)


def gitlab_get(sandbox, path, **kwargs):
    headers = {"PRIVATE-TOKEN": sandbox.token("gitlab")} | kwargs.pop("headers", {})
    return requests.get(sandbox.base_url("gitlab") + path, headers=headers, timeout=TIMEOUT, **kwargs)


def jira_get(sandbox, path, auth=None, **kwargs):
    auth = auth or (sandbox.username("jira"), sandbox.token("jira"))
    return requests.get(sandbox.base_url("jira") + path, auth=auth, timeout=TIMEOUT, **kwargs)


def youtrack_get(sandbox, path, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token or sandbox.token('youtrack')}", "Accept": "application/json"}
    return requests.get(sandbox.base_url("youtrack") + path, headers=headers, timeout=TIMEOUT, **kwargs)


def kimai_get(sandbox, path, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token or sandbox.token('kimai')}"} | kwargs.pop("headers", {})
    return requests.get(sandbox.base_url("kimai") + path, headers=headers, timeout=TIMEOUT, **kwargs)


def clockodo_headers(sandbox, *, key=None, application=True, iso=True):
    headers = {"X-ClockodoApiUser": sandbox.username("clockodo"), "X-ClockodoApiKey": key or sandbox.token("clockodo")}
    if application:
        headers["X-Clockodo-External-Application"] = "Siisurit tests;admin@example.com"
    if iso:
        headers["X-ClockodoEnableIsoUtcDateTimes"] = "1"
    return headers


def clockodo_get(sandbox, path, headers=None, **kwargs):
    return requests.get(
        sandbox.base_url("clockodo") + path, headers=headers or clockodo_headers(sandbox), timeout=TIMEOUT, **kwargs
    )


ALL_TIME = {"time_since": "2020-01-01T00:00:00Z", "time_until": "2030-01-01T00:00:00Z"}


def github_all_items(sandbox, **params):
    url = sandbox.base_url("github") + "/repos/acme/webshop/issues"
    items, first = [], True
    while url:
        response = github_get(sandbox, url.removeprefix(sandbox.base_url("github")), params=params if first else None)
        assert response.status_code == 200
        items += response.json()
        url = response.links.get("next", {}).get("url")
        first = False
    return items


def kimai_all_entries(sandbox, **params):
    entries, page = [], 1
    while True:
        response = kimai_get(sandbox, "/api/timesheets", params={"page": page, **params})
        assert response.status_code == 200, response.text
        entries += response.json()
        if page >= int(response.headers["X-Total-Pages"]):
            return entries
        page += 1


# Servers and addresses


def test_binding_anything_but_loopback_is_refused():
    with pytest.raises(ValueError, match="loopback"):
        SandboxTrackers(host="0.0.0.0")  # noqa: S104 - proving it is refused
    with pytest.raises(ValueError, match="loopback"):
        SandboxTrackers(host="192.168.1.10")


def test_each_kind_listens_on_its_own_loopback_port(shared):
    ports = {shared.port(kind) for kind in KINDS}
    assert len(ports) == len(KINDS)
    assert all(shared.base_url(kind).startswith("http://127.0.0.1:") for kind in KINDS)


def test_api_locations_look_like_browser_urls(shared):
    assert shared.api_location("github") == shared.base_url("github") + "/acme/webshop"
    assert shared.api_location("gitlab") == shared.base_url("gitlab") + "/acme/webshop"
    assert shared.api_location("jira") == shared.base_url("jira") + "/browse/SHOP-1"
    assert shared.api_location("youtrack") == shared.base_url("youtrack") + "/projects/DEMO"
    assert shared.api_location("youtrack", "newIssue") == shared.base_url("youtrack") + "/newIssue?project=DEMO"
    assert shared.api_location("kimai") == shared.base_url("kimai") + "/en/admin/project/1/details"
    assert shared.api_location("kimai", "customer") == shared.base_url("kimai") + "/en/admin/customer/1/details"
    assert shared.api_location("clockodo") == shared.base_url("clockodo") + "/en/projectreports/report/?id=123"
    page = requests.get(shared.api_location("kimai"), timeout=TIMEOUT)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]


def test_fixed_ports_and_credentials_are_configurable():
    with SandboxTrackers(task_count=1, entry_count=1, tokens={"kimai": "secret-k"}, usernames={"kimai": "bob"}) as a:
        port = a.port("kimai")
    with SandboxTrackers(task_count=1, entry_count=1, ports={"kimai": port}, tokens={"kimai": "secret-k"}) as b:
        assert b.port("kimai") == port
        assert b.token("kimai") == "secret-k"
        assert kimai_get(b, "/api/ping", token="secret-k").json() == {"message": "pong"}


def test_cli_ports_accept_ranges_lists_and_pairs():
    assert parse_ports("8801-8806") == dict(zip(KINDS, range(8801, 8807), strict=True))
    assert parse_ports("kimai=9000") == {"kimai": 9000}
    assert parse_ports("0") == {}


# GitHub


def test_github_rejects_bad_and_missing_tokens(shared):
    bad = github_get(shared, "/repos/acme/webshop/issues", token="wrong")
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"
    missing = requests.get(shared.base_url("github") + "/repos/acme/webshop/issues", timeout=TIMEOUT)
    assert missing.status_code == 401
    assert github_get(shared, "/repos/acme/other/issues").status_code == 404


def test_github_link_pages_give_every_issue_plus_pull_requests(shared):
    items = github_all_items(shared, state="all", per_page=10)
    issues = [item for item in items if "pull_request" not in item]
    pull_requests = [item for item in items if "pull_request" in item]
    assert len(issues) == TASKS
    assert pull_requests
    assert len({item["number"] for item in items}) == len(items)
    assert {f"#{item['number']}" for item in issues} == set(shared.task_codes("github"))
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["updated_at"]) for item in items)
    assert shared.stats["github"]["requests"] == -(-len(items) // 10)


def test_github_answers_rate_limit_headers_and_default_open_state(shared):
    response = github_get(shared, "/repos/acme/webshop/issues")
    assert response.status_code == 200
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used"} <= {
        name.lower() for name in response.headers
    }
    assert all(item["state"] == "open" for item in response.json())
    assert 'rel="last"' in response.headers["Link"]


def test_github_links_name_the_repository_by_id_as_github_does(shared):
    first = github_get(shared, "/repos/acme/webshop/issues", params={"state": "all", "per_page": 5})
    following = requests.get(first.links["next"]["url"], headers=first.request.headers, timeout=10)
    assert urlsplit(first.links["next"]["url"]).path == "/repositories/1300192/issues"
    assert following.status_code == 200
    assert {item["number"] for item in following.json()}.isdisjoint(item["number"] for item in first.json())


def test_github_etag_gives_304_that_costs_no_rate_limit(shared):
    first = github_get(shared, "/repos/acme/webshop/issues", params={"state": "all"})
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = github_get(
        shared, "/repos/acme/webshop/issues", params={"state": "all"}, headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    assert shared.stats["github"]["not_modified"] == 1


def test_github_since_returns_only_issues_updated_since(shared):
    items = github_all_items(shared, state="all", per_page=100)
    middle = sorted(item["updated_at"] for item in items)[len(items) // 2]
    recent = github_all_items(shared, state="all", since=middle, sort="updated", direction="asc")
    assert recent
    assert all(item["updated_at"] >= middle for item in recent)
    assert [item["updated_at"] for item in recent] == sorted(item["updated_at"] for item in recent)
    assert len(recent) == sum(item["updated_at"] >= middle for item in items)


def test_github_rate_limit_fault_looks_like_githubs_403(shared):
    shared.inject("github", fault="rate_limit", reset_in=5)
    response = github_get(shared, "/repos/acme/webshop/issues")
    assert response.status_code == 403
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-reset"]) >= datetime.now(tz=UTC).timestamp()
    assert response.json()["message"].startswith("API rate limit exceeded")
    assert github_get(shared, "/repos/acme/webshop/issues").status_code == 200


# GitLab


def test_gitlab_accepts_private_token_and_bearer_and_rejects_others(shared):
    assert gitlab_get(shared, "/api/v4/projects/42/issues").status_code == 200
    bearer = gitlab_get(
        shared,
        "/api/v4/projects/42/issues",
        headers={"PRIVATE-TOKEN": "", "Authorization": f"Bearer {shared.token('gitlab')}"},
    )
    assert bearer.status_code == 200
    bad = gitlab_get(shared, "/api/v4/projects/42/issues", headers={"PRIVATE-TOKEN": "nope"})
    assert bad.status_code == 401
    assert bad.json() == {"message": "401 Unauthorized"}
    assert gitlab_get(shared, "/api/v4/projects/acme%2Fother/issues").json() == {"message": "404 Project Not Found"}


@pytest.mark.parametrize("project", ["42", "acme%2Fwebshop"])
def test_gitlab_x_next_page_walks_all_issues_and_merge_requests(shared, project):
    found = {}
    for what in ("issues", "merge_requests"):
        page, items = "1", []
        while page:
            response = gitlab_get(shared, f"/api/v4/projects/{project}/{what}", params={"per_page": 20, "page": page})
            assert response.status_code == 200
            items += response.json()
            page = response.headers["x-next-page"]
        assert int(response.headers["x-total"]) == len(items)
        found[what] = items
    assert len(found["issues"]) == TASKS
    codes = {item["references"]["short"] for what in found.values() for item in what}
    assert codes == set(shared.task_codes("gitlab"))
    assert all(item["updated_at"].endswith("Z") and "." in item["updated_at"] for item in found["issues"])
    assert {item["state"] for item in found["merge_requests"]} <= {"opened", "closed", "merged"}


def test_gitlab_leaves_out_totals_above_ten_thousand():
    with SandboxTrackers(task_count={"gitlab": 10_001}, entry_count=1) as big:
        response = gitlab_get(big, "/api/v4/projects/42/issues", params={"per_page": 100})
        assert response.status_code == 200
        assert "x-total" not in response.headers
        assert "x-total-pages" not in response.headers
        assert response.headers["x-next-page"] == "2"
        assert 'rel="last"' not in response.headers["Link"]


def test_gitlab_updated_after_filters(shared):
    response = gitlab_get(
        shared,
        "/api/v4/projects/42/issues",
        params={"updated_after": "2024-06-01T00:00:00Z", "order_by": "updated_at", "sort": "asc", "per_page": 100},
    )
    updated = [item["updated_at"] for item in response.json()]
    assert updated == sorted(updated)
    assert all(value >= "2024-06-01" for value in updated)


# Jira


def test_jira_basic_auth_and_bounded_jql(shared):
    bad = jira_get(
        shared, "/rest/api/3/search/jql", auth=(shared.username("jira"), "wrong"), params={"jql": "project = SHOP"}
    )
    assert bad.status_code == 401
    assert "errorMessages" in bad.json()
    unbounded = jira_get(shared, "/rest/api/3/search/jql", params={"jql": "order by created"})
    assert unbounded.status_code == 400
    unknown = jira_get(shared, "/rest/api/3/search/jql", params={"jql": "project = NOPE"})
    assert unknown.status_code == 400


def test_jira_next_page_token_until_is_last(shared):
    fields = "summary,status,assignee,created,updated,resolutiondate,timeoriginalestimate"
    params = {"jql": "project = SHOP ORDER BY updated ASC", "maxResults": 25, "fields": fields}
    issues, pages = [], 0
    while True:
        body = jira_get(shared, "/rest/api/3/search/jql", params=params).json()
        pages += 1
        issues += body["issues"]
        if body["isLast"]:
            assert "nextPageToken" not in body
            break
        params["nextPageToken"] = body["nextPageToken"]
    assert len(issues) == TASKS
    assert pages == 3
    assert {issue["key"] for issue in issues} == set(shared.task_codes("jira"))
    first = issues[0]
    assert set(first["fields"]) == set(fields.split(","))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000", first["fields"]["updated"])
    assert first["fields"]["status"]["statusCategory"]["key"] in {"new", "indeterminate", "done"}
    updated = [issue["fields"]["updated"] for issue in issues]
    assert updated == sorted(updated)


def test_jira_without_fields_gives_only_id_key_self(shared):
    body = jira_get(shared, "/rest/api/3/search/jql", params={"jql": "project = SHOP"}).json()
    assert set(body["issues"][0]) - {"expand"} == {"id", "key", "self"}


def test_jira_names_people_by_account_id_on_cloud_and_by_user_name_on_server(shared):
    params = {"jql": "project = SHOP", "fields": "assignee,reporter", "maxResults": 50}
    cloud = jira_get(shared, "/rest/api/3/search/jql", params=params).json()["issues"]
    server = jira_get(shared, "/rest/api/2/search", params=params).json()["issues"]
    cloud_people = [issue["fields"]["reporter"] for issue in cloud]
    server_people = [issue["fields"]["reporter"] for issue in server]
    assert all("accountId" in person and "name" not in person for person in cloud_people)
    assert all(person["name"] == person["key"] and "accountId" not in person for person in server_people)
    assert {person["name"] for person in server_people} <= {user.username for user in shared.users}


def test_jira_server_style_search_pages_with_start_at(shared):
    issues, start = [], 0
    while True:
        body = jira_get(
            shared, "/rest/api/2/search", params={"jql": "project = SHOP", "startAt": start, "maxResults": 20}
        ).json()
        issues += body["issues"]
        start += len(body["issues"])
        if start >= body["total"]:
            break
    assert body["total"] == TASKS
    assert len({issue["key"] for issue in issues}) == TASKS
    assert isinstance(issues[0]["fields"]["description"], str)


# YouTrack


def test_youtrack_bearer_auth(shared):
    response = youtrack_get(shared, "/api/issues", token="perm:wrong")
    assert response.status_code == 401
    assert set(response.json()) == {"error", "error_description"}


def test_youtrack_pages_with_skip_top_and_answers_42_without_top(shared):
    fields = (
        "id,idReadable,numberInProject,summary,created,updated,resolved,project(id,shortName,name),"
        "customFields(id,name,$type,value(id,name,login,fullName,minutes,presentation,isResolved))"
    )
    assert len(youtrack_get(shared, "/api/issues", params={"query": "project: DEMO"}).json()) == 42
    bare = youtrack_get(shared, "/api/issues", params={"query": "project: DEMO", "$top": 1}).json()[0]
    assert set(bare) == {"$type", "id"}
    issues, skip = [], 0
    while True:
        page = youtrack_get(
            shared, "/api/issues", params={"query": "project: DEMO", "fields": fields, "$skip": skip, "$top": 20}
        ).json()
        issues += page
        skip += len(page)
        if len(page) < 20:
            break
    assert len(issues) == TASKS
    assert {issue["idReadable"] for issue in issues} == set(shared.task_codes("youtrack"))
    issue = issues[0]
    assert isinstance(issue["created"], int) and issue["created"] > 1_600_000_000_000
    by_name = {field["name"]: field for field in issue["customFields"]}
    assert by_name["State"]["$type"] == "StateIssueCustomField"
    assert by_name["Assignee"]["$type"] == "SingleUserIssueCustomField"
    estimates = [
        field["value"]
        for issue in issues
        for field in issue["customFields"]
        if field["name"] == "Estimation" and field["value"]
    ]
    assert estimates and all(isinstance(value["minutes"], int) for value in estimates)


def test_youtrack_projects_and_time_tracking_settings(shared):
    projects = youtrack_get(shared, "/api/admin/projects", params={"fields": "id,shortName,name"}).json()
    assert projects == [{"$type": "Project", "id": "0-0", "shortName": "DEMO", "name": "Demo"}]
    settings = youtrack_get(
        shared,
        "/api/admin/projects/0-0/timeTrackingSettings",
        params={"fields": "enabled,estimate(id,field(name)),timeSpent(id,field(name))"},
    ).json()
    assert settings["enabled"] is True
    assert settings["estimate"]["field"]["name"] == "Estimation"


def test_youtrack_multi_user_assignee_field_is_a_list():
    with SandboxTrackers(task_count=5, entry_count=1, youtrack_multi_assignee=True) as trackers:
        issues = youtrack_get(trackers, "/api/issues", params={"fields": "customFields(name,$type,value(login))"})
        fields = [field for issue in issues.json() for field in issue["customFields"] if field["name"] == "Assignee"]
        assert all(
            field["$type"] == "MultiUserIssueCustomField" and isinstance(field["value"], list) for field in fields
        )


# Kimai


def test_kimai_auth_ping_and_legacy_headers(shared):
    assert kimai_get(shared, "/api/ping").json() == {"message": "pong"}
    bad = kimai_get(shared, "/api/ping", token="wrong")
    assert bad.status_code == 401
    assert bad.json()["code"] == 401
    legacy = requests.get(
        shared.base_url("kimai") + "/api/ping",
        timeout=TIMEOUT,
        headers={"X-AUTH-USER": shared.username("kimai"), "X-AUTH-TOKEN": shared.token("kimai")},
    )
    assert legacy.status_code == 200


def test_kimai_pages_to_the_end_and_answers_404_past_it(shared):
    entries = kimai_all_entries(shared, project=1, user="all", size=100)
    assert len(entries) == ENTRIES
    assert sorted(entry["id"] for entry in entries) == sorted(shared.entry_ids("kimai"))
    pages = -(-ENTRIES // 100)
    past = kimai_get(shared, "/api/timesheets", params={"project": 1, "user": "all", "size": 100, "page": pages + 1})
    assert past.status_code == 404
    assert past.json() == {"code": 404, "message": "Not Found"}


def test_kimai_default_user_is_the_token_owner_and_size_is_capped(shared):
    mine = kimai_all_entries(shared, project=1, size=1000)
    assert mine and {entry["user"] for entry in mine} == {1}
    response = kimai_get(shared, "/api/timesheets", params={"user": "all", "size": 1000})
    assert response.headers["X-Per-Page"] == "500"


def test_kimai_full_gives_breadcrumb_and_local_times(shared):
    entries = kimai_get(
        shared, "/api/timesheets", params={"project": 1, "user": "all", "full": "true", "size": 200}
    ).json()
    entry = entries[0]
    assert entry["project"]["customer"]["name"] == "Acme Corp"
    assert entry["project"]["name"] == "Webshop"
    assert entry["activity"]["name"]
    assert isinstance(entry["user"]["username"], str)
    offsets = {entry["begin"][-5:] for entry in entries}
    assert offsets <= {"+0000", "+0100", "+0200"}
    assert all(datetime.fromisoformat(entry["begin"]) for entry in entries)
    customer = kimai_get(shared, "/api/timesheets", params={"customer": 1, "user": "all", "size": 500})
    assert int(customer.headers["X-Total-Count"]) > ENTRIES


def test_kimai_modified_after_and_master_data(shared):
    recent = kimai_all_entries(shared, project=1, user="all", modified_after="2025-01-01T00:00:00", size=500)
    assert 0 < len(recent) < ENTRIES
    assert len(kimai_get(shared, "/api/projects").json()) == 3
    assert len(kimai_get(shared, "/api/projects", params={"visible": 3}).json()) == 4
    assert "color-safe" in kimai_get(shared, "/api/customers").json()[0]
    assert [user["username"] for user in kimai_get(shared, "/api/users").json()][:2] == ["alice", "bob"]


def test_kimai_begin_end_select_by_local_start(shared):
    params = {"project": 1, "user": "all", "begin": "2024-01-01T00:00:00", "end": "2024-01-31T23:59:59"}
    entries = kimai_all_entries(shared, **params, size=500)
    assert entries
    assert all(entry["begin"].startswith("2024-01-") for entry in entries)


def test_kimai_texts_mention_github_codes_and_some_do_not(shared):
    texts = [entry["description"] for entry in kimai_all_entries(shared, project=1, user="all", size=500)]
    codes = set(shared.task_codes("github"))
    mentioned = [text for text in texts if re.match(r"#\d+", text) and re.match(r"#\d+", text).group() in codes]
    assert len(mentioned) > ENTRIES // 3
    assert any(not re.search(r"#\d+", text) for text in texts)


# Clockodo


def test_clockodo_needs_external_application_header_and_credentials(shared):
    missing = clockodo_get(
        shared, "/api/v2/entries", headers=clockodo_headers(shared, application=False), params=ALL_TIME
    )
    assert missing.status_code == 400
    bad = clockodo_get(shared, "/api/v2/entries", headers=clockodo_headers(shared, key="wrong"), params=ALL_TIME)
    assert bad.status_code == 401
    no_window = clockodo_get(shared, "/api/v2/entries", params={"filter[projects_id]": 123})
    assert no_window.status_code == 400


def test_clockodo_paging_object_walks_all_entries(shared):
    entries, page = [], 1
    while True:
        body = clockodo_get(
            shared, "/api/v2/entries", params={**ALL_TIME, "filter[projects_id]": 123, "page": page}
        ).json()
        entries += body["entries"]
        if page >= body["paging"]["count_pages"]:
            break
        page += 1
    assert body["paging"]["count_items"] == ENTRIES
    assert len(entries) == ENTRIES
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["time_since"]) for entry in entries)
    assert any(re.search(r"DEMO-\d+", entry["text"]) for entry in entries)


def test_clockodo_monthly_windows_add_up_to_all_entries(shared):
    total, month = 0, datetime(2022, 12, 1, tzinfo=UTC)
    while month.year < 2026:
        following = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
        window = {
            "time_since": month.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "time_until": following.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        body = clockodo_get(
            shared, "/api/v2/entries", params={**window, "filter[projects_id]": 123, "items_per_page": 1000}
        ).json()
        assert all(window["time_since"] <= entry["time_since"] < window["time_until"] for entry in body["entries"])
        total += body["paging"]["count_items"]
        month = following
    assert total == ENTRIES


def test_clockodo_legacy_times_without_iso_header_and_master_data(shared):
    body = clockodo_get(
        shared,
        "/api/v2/entries",
        headers=clockodo_headers(shared, iso=False),
        params={**ALL_TIME, "filter[projects_id]": 123},
    ).json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["entries"][0]["time_since"])
    for path in ("/api/v3/customers", "/api/v4/projects", "/api/v4/services", "/api/v3/users"):
        listing = clockodo_get(shared, path).json()
        assert listing["data"] and "paging" in listing
    assert clockodo_get(shared, "/api/v4/projects/123").json()["data"]["name"] == "Webshop"
    assert clockodo_get(shared, "/api/v2/users").status_code == 410


# Faults


def test_429_with_retry_after_then_success(shared):
    shared.inject("kimai", status=429, count=2, retry_after=1)
    first = kimai_get(shared, "/api/ping")
    second = kimai_get(shared, "/api/ping")
    third = kimai_get(shared, "/api/ping")
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "1"
    assert first.json()["code"] == 429
    assert shared.stats["kimai"]["faults"] == 2


def test_every_nth_request_fails_until_cleared(shared):
    shared.inject("gitlab", status=503, every=3, count=None)
    statuses = [gitlab_get(shared, "/api/v4/projects/42").status_code for _ in range(6)]
    assert statuses == [200, 200, 503, 200, 200, 503]
    shared.clear_faults("gitlab")
    assert gitlab_get(shared, "/api/v4/projects/42").status_code == 200


def test_401_for_everything_and_path_filter(shared):
    shared.inject("youtrack", status=403, path="timeTrackingSettings", count=None)
    assert youtrack_get(shared, "/api/admin/projects/0-0/timeTrackingSettings").status_code == 403
    assert youtrack_get(shared, "/api/admin/projects").status_code == 200
    shared.inject("jira", status=401, count=None)
    assert [jira_get(shared, "/rest/api/3/myself").status_code for _ in range(3)] == [401, 401, 401]


def test_dropped_connection_raises_in_requests(shared):
    shared.inject("jira", fault="drop")
    with pytest.raises(requests.ConnectionError):
        jira_get(shared, "/rest/api/3/search/jql", params={"jql": "project = SHOP"})
    assert jira_get(shared, "/rest/api/3/myself").status_code == 200


def test_truncated_and_incomplete_bodies(shared):
    shared.inject("clockodo", fault="truncate")
    truncated = clockodo_get(shared, "/api/v3/customers")
    assert truncated.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        truncated.json()
    shared.inject("clockodo", fault="incomplete")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        clockodo_get(shared, "/api/v3/customers")
    assert clockodo_get(shared, "/api/v3/customers").json()["data"]


def test_latency_delays_answers(shared):
    shared.set_latency(200, kind="kimai")
    response = kimai_get(shared, "/api/ping")
    assert response.elapsed.total_seconds() >= 0.2


def test_unknown_fault_is_refused(shared):
    with pytest.raises(ValueError, match="unknown fault"):
        shared.inject("kimai", fault="explode")
    with pytest.raises(ValueError, match="status"):
        shared.inject("kimai", status=200)


# Data


def test_same_seed_gives_the_same_data_and_another_seed_differs():
    def snapshot(seed):
        with SandboxTrackers(seed=seed, task_count=20, entry_count=30) as trackers:
            issues = github_get(trackers, "/repos/acme/webshop/issues", params={"state": "all"}).json()
            entries = kimai_get(trackers, "/api/timesheets", params={"user": "all"}).json()
            return issues, entries

    first = snapshot(11)
    first_again = snapshot(11)
    assert [(item["title"], item["updated_at"]) for item in first[0]] == [
        (item["title"], item["updated_at"]) for item in first_again[0]
    ]
    assert first[1] == first_again[1]
    assert snapshot(12)[1] != first[1]


def test_big_datasets_are_lazy_and_fast_to_page():
    with SandboxTrackers(task_count=20_000, entry_count=200_000) as big:
        response = kimai_get(
            big, "/api/timesheets", params={"project": 1, "user": "all", "size": 500, "full": "true", "page": 400}
        )
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "200000"
        assert len(response.json()) == 500
        assert response.elapsed.total_seconds() < 5


# Mutations


def test_changed_title_bumps_updated_and_etag(fresh):
    params = {"state": "all", "per_page": 100}
    before = github_get(fresh, "/repos/acme/webshop/issues", params=params)
    fresh.update_task("github", "#2", title="Renamed upstream")
    after = github_get(
        fresh, "/repos/acme/webshop/issues", params=params, headers={"If-None-Match": before.headers["ETag"]}
    )
    assert after.status_code == 200
    changed = next(item for item in after.json() if item["number"] == 2)
    old = next(item for item in before.json() if item["number"] == 2)
    assert changed["title"] == "Renamed upstream"
    assert changed["updated_at"] > old["updated_at"]
    since = github_get(fresh, "/repos/acme/webshop/issues", params={"state": "all", "since": changed["updated_at"]})
    assert [item["number"] for item in since.json()] == [2]


def test_deleted_and_added_tasks_and_entries(fresh):
    fresh.delete_task("jira", "SHOP-3")
    number = fresh.add_task("youtrack", title="Fresh from upstream")
    keys = {
        issue["key"]
        for issue in jira_get(fresh, "/rest/api/2/search", params={"jql": "project = SHOP"}).json()["issues"]
    }
    assert "SHOP-3" not in keys and len(keys) == 11
    summaries = {
        issue["idReadable"]: issue["summary"]
        for issue in youtrack_get(fresh, "/api/issues", params={"fields": "idReadable,summary", "$top": 100}).json()
    }
    assert summaries[f"DEMO-{number}"] == "Fresh from upstream"
    assert github_get(fresh, "/repos/acme/webshop/issues/1").status_code == 200
    fresh.delete_task("github", 1)
    assert github_get(fresh, "/repos/acme/webshop/issues/1").status_code == 410

    gone = fresh.entry_ids("kimai")[0]
    fresh.delete_entry("kimai", gone)
    added = fresh.add_entry(
        "kimai", text="#1 hotfix", begin=datetime(2025, 7, 1, 9, tzinfo=UTC), duration=1800, user="bob"
    )
    ids = {entry["id"] for entry in kimai_all_entries(fresh, project=1, user="all")}
    assert gone not in ids and added in ids
    assert len(ids) == 40
    clockodo_id = fresh.entry_ids("clockodo")[5]
    fresh.update_entry("clockodo", clockodo_id, text="DEMO-4 changed")
    entry = clockodo_get(fresh, f"/api/v2/entries/{clockodo_id}").json()["entry"]
    assert entry["text"] == "DEMO-4 changed"
    with pytest.raises(KeyError):
        fresh.delete_entry("kimai", gone)
