"""Sandbox trackers: local imitations of GitHub, GitLab, Jira, YouTrack, Kimai and Clockodo.

Users try Siisurit without tracker accounts; tests, ``make demo`` and the benchmarks download from it. Pure
standard library (``http.server``), loopback only, one listening socket per tracker kind (their paths collide,
e.g. GitLab's and Clockodo's ``/api/v4/projects``). The formats follow ``docs/trackers.md``.

Public API::

    from sandbox import KINDS, SandboxTrackers

    with SandboxTrackers(seed=1, task_count=200, entry_count=2000) as sandbox:
        sandbox.base_url("kimai")          # "http://127.0.0.1:54321" (no trailing slash)
        sandbox.api_location("kimai")      # "http://127.0.0.1:54321/en/admin/project/1/details"
        sandbox.token("kimai")             # accepted API token
        sandbox.username("kimai")          # accepted user name / e-mail (token owner)
        sandbox.stats["github"]            # {"requests": 3, "not_modified": 1, "faults": 0,
                                           #  "statuses": {200: 2, 304: 1}}
        sandbox.reset_stats()               # or reset_stats("github")
        sandbox.port("kimai")              # 54321
        sandbox.credentials()              # {kind: {"base_url", "api_location", "username", "token"}}

``KINDS`` = ("github", "gitlab", "jira", "youtrack", "kimai", "clockodo").

Constructor ``SandboxTrackers(config: SandboxConfig | None = None, **fields)``: a ``SandboxConfig`` (a frozen
dataclass), or its fields as keywords, e.g. ``SandboxTrackers(seed=3, task_count=50)``. Fields and defaults:
``seed=1, ports=None, host="127.0.0.1", task_count=200, entry_count=2000, other_entry_count=None,
merge_request_count=None, users=None, tokens=None, usernames=None, pull_request_every=5, kimai_code_prefix="#",
clockodo_code_prefix="DEMO-", youtrack_estimate_field="Estimation", youtrack_multi_assignee=False,
github_rate_limit=5000, clockodo_page_size=50, latency_ms=0, faults=(),
page_cache_megabytes=None``:

- ``ports``: ``{kind: port}``; missing kinds or 0 mean an ephemeral port. ``host`` must be a loopback address
  (anything else raises ``ValueError``).
- ``task_count`` / ``entry_count``: an int for every kind or a ``{kind: count}`` dict. ``task_count`` is the number
  of *issues* of the seeded project of each task tracker (GitHub additionally serves pull-request items: every
  ``pull_request_every``-th number is a PR, 0 = none; GitLab additionally serves ``merge_request_count`` MRs,
  default ``task_count // 4``). ``entry_count`` is the number of work entries of the seeded Kimai/Clockodo
  project; ``other_entry_count`` (default ``entry_count // 10``) more entries belong to other projects/customers.
- ``users``: user names (default alice, bob, carol, dave, erin, frank); e-mails are ``<name>@example.com``,
  full names "Alice Anderson" etc. The first user owns the tokens.
- ``tokens`` / ``usernames``: ``{kind: value}`` overrides of the accepted credentials. Defaults: user names
  ``alice`` (GitHub, GitLab, YouTrack, Kimai) and ``alice@example.com`` (Jira, Clockodo).
- ``faults``: rules applied at construction, e.g. ``[{"kind": "kimai", "status": 429, "count": 2}]``.
- ``page_cache_megabytes``: budget of each tracker's cache of rendered pages (default 48 MB); a benchmark timing the
  client sizes it to hold every page of a pass.
- Paging details: GitHub ``per_page`` max 100; GitLab ``per_page`` max 100 (``x-total``/``x-total-pages`` left out
  above 10,000 matches); Jira ``maxResults`` max 100; YouTrack ``$top`` default 42 (-1 = all); Kimai ``size`` max
  500, default ``user`` = the token owner only (pass ``user=all``); Clockodo ``items_per_page`` (default
  ``clockodo_page_size``, max 1000), ``time_since <= start < time_until``. Jira JQL understands
  ``project = SHOP``, ``updated/created >= "YYYY-MM-DD HH:MM"`` (UTC) and ``ORDER BY updated|created|key``.
- Data is deterministic from ``seed`` and generated lazily (item i from (seed, kind, i)), so 20,000 tasks and
  200,000 entries cost no memory. Timestamps lie between 2023-01-02 and 2025-06-30 (mutations use "now").

Seeded projects and browser URLs (``api_location(kind, variant=None)``):

- github: repository ``acme/webshop`` -> ``{base}/acme/webshop``; API also under ``{base}/api/v3`` (GHES style).
  Issue codes ``#N``.
- gitlab: project id 42, path ``acme/webshop`` -> ``{base}/acme/webshop``; API ``{base}/api/v4``. ``#N`` issues,
  ``!N`` merge requests.
- jira: project key ``SHOP`` -> ``{base}/browse/SHOP-1`` (variant "project": ``{base}/projects/SHOP``); API
  ``{base}/rest/api/3/search/jql`` (Cloud) and ``{base}/rest/api/2/search`` (Server style). Basic auth
  ``username("jira")`` (an e-mail) + token. Codes ``SHOP-N``.
- youtrack: project ``DEMO`` (id ``0-0``) -> ``{base}/projects/DEMO`` (variant "newIssue":
  ``{base}/newIssue?project=DEMO``); API ``{base}/api``. Codes ``DEMO-N``.
- kimai: customer 1 "Acme Corp", project 1 "Webshop" -> ``{base}/en/admin/project/1/details`` (variant
  "customer": ``{base}/en/admin/customer/1/details``); API ``{base}/api``. Entry texts mention GitHub codes ``#N``.
- clockodo: customer 10 "Acme Corp", project 123 "Webshop" -> ``{base}/en/projectreports/report/?id=123``; API
  ``{base}/api/v2/entries`` etc. Entry texts mention YouTrack codes ``DEMO-N``.

Fault injection (thread safe, deterministic; also at runtime)::

    sandbox.inject("kimai", status=429, count=2, retry_after=1)   # next 2 requests -> 429 + Retry-After: 1
    sandbox.inject("gitlab", status=503, every=3)                  # every 3rd request, forever
    sandbox.inject("github", fault="rate_limit", reset_in=2)       # 403, x-ratelimit-remaining: 0, reset now+2s
    sandbox.inject("github", fault="secondary_rate_limit", retry_after=1)
    sandbox.inject("jira", fault="drop")                           # close the socket without an answer
    sandbox.inject("clockodo", fault="truncate")                   # valid HTTP, JSON body cut in half
    sandbox.inject("youtrack", fault="incomplete")                 # Content-Length promises more than is sent
    sandbox.inject("kimai", fault="trickle", delay_ms=200)         # the body arrives one byte every 200 ms
    sandbox.inject("kimai", fault="oversize", size=2_000_000)      # 2 MB of JSON whitespace after the body
    sandbox.inject("github", fault="endless", count=None)          # empty pages naming a next page, forever
    sandbox.inject("kimai", status=401, count=None)                # every request -> 401 until cleared
    sandbox.inject("youtrack", status=403, path="timeTrackingSettings")  # only requests whose path contains it
    sandbox.clear_faults("kimai")                                  # or clear_faults() for all kinds
    sandbox.set_latency(50)                                        # ms per request, all kinds
    sandbox.set_latency(50, kind="kimai")

``inject(kind, *, status=None, fault=None, count=1, every=None, retry_after=None, reset_in=60, path=None)``:
``count`` = how many times the rule fires (None = unlimited); ``every`` = fire on every N-th matching request
(counted from the rule's creation). Error bodies have the tracker's own format. Faults count in
``stats[kind]["faults"]``.

Mutations (bump ``updated``/modification time to now, invalidate caches and ETags)::

    sandbox.update_task("github", 7, title="New title")      # also state=, assignees=[...], estimate= (seconds)
    sandbox.delete_task("jira", "SHOP-3")                     # codes: 7, "#7", "!3" (GitLab MR), "SHOP-3", "DEMO-3"
    number = sandbox.add_task("youtrack", title="Fresh")     # returns the new number
    sandbox.update_entry("kimai", entry_id, text="...", duration=3600)
    sandbox.delete_entry("clockodo", entry_id)
    entry_id = sandbox.add_entry("kimai", text="#3 hotfix", begin=datetime(..., tzinfo=UTC), duration=1800,
                                 user="bob")

Read access for expectations in tests: ``sandbox.task(kind, code)`` -> ``TaskRecord | None``,
``sandbox.entry(kind, entry_id)`` -> ``EntryRecord | None``, ``sandbox.task_codes(kind)`` (issues only, GitLab
MRs as ``!N``), ``sandbox.entry_ids(kind)`` (seeded project only), ``sandbox.users``.

CLI: ``python -m sandbox --ports 18801-18806 --seed 1 --tasks N --entries M`` or
``manage.py run_sandbox`` (same options).
"""

from sandbox.kinds import KINDS
from sandbox.trackers import SandboxConfig, SandboxTrackers

__all__ = ["KINDS", "SandboxConfig", "SandboxTrackers"]
