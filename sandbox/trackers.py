"""``SandboxTrackers``: the six tracker imitations with their data, servers, faults and statistics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sandbox.apis import clockodo_data, kimai_data
from sandbox.apis.base import PageCache
from sandbox.apis.clockodo import ClockodoApi
from sandbox.apis.github import GithubApi
from sandbox.apis.gitlab import GitlabApi
from sandbox.apis.jira import JiraApi
from sandbox.apis.kimai import KimaiApi
from sandbox.apis.youtrack import YoutrackApi
from sandbox.datasets import entry_store, task_store
from sandbox.entries import EntryGenerator, EntryRecord, MentionPlan
from sandbox.faults import FaultInjector
from sandbox.kinds import ENTRY_KINDS, KINDS, TASK_KINDS
from sandbox.people import SandboxUser, sandbox_users
from sandbox.server import TrackerServer, loopback_host
from sandbox.stats import RequestStats
from sandbox.store import LazyStore
from sandbox.tasks import TaskGenerator, TaskRecord, issue_number, numbers_for_issues
from sandbox.timeline import from_datetime, now

DEFAULT_TASK_COUNT = 200
DEFAULT_ENTRY_COUNT = 2000
DEFAULT_TOKENS = {  # not secrets: the sandbox accepts these unless told otherwise
    "github": "ghp_sandboxGithubToken0001",
    "gitlab": "glpat-sandbox-gitlab-0001",
    "jira": "sandbox-jira-api-token-0001",
    "youtrack": "perm:c2FuZGJveA==.c2lpc3VyaXQ=.sandboxYoutrack0001",
    "kimai": "sandbox-kimai-api-token-0001",
    "clockodo": "sandbox-clockodo-api-key-0001",
}
_CODE_PREFIXES = {"github": "#", "gitlab": "#", "jira": "SHOP-", "youtrack": "DEMO-"}


@dataclass(slots=True)
class _TaskTarget:
    store: LazyStore
    generator: TaskGenerator
    index: int | None


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox trackers serve and accept; the package docstring explains each field."""

    seed: int = 1
    ports: Mapping[str, int] | None = None
    host: str = "127.0.0.1"
    task_count: int | Mapping[str, int] = DEFAULT_TASK_COUNT
    entry_count: int | Mapping[str, int] = DEFAULT_ENTRY_COUNT
    other_entry_count: int | Mapping[str, int] | None = None
    merge_request_count: int | None = None
    users: Iterable[str] | None = None
    tokens: Mapping[str, str] | None = None
    usernames: Mapping[str, str] | None = None
    pull_request_every: int = 5
    kimai_code_prefix: str = "#"
    clockodo_code_prefix: str = "DEMO-"
    youtrack_estimate_field: str = "Estimation"
    youtrack_multi_assignee: bool = False
    github_rate_limit: int | None = 5000
    clockodo_page_size: int = 50
    latency_ms: int = 0
    faults: Iterable[Mapping[str, Any]] = ()
    #: Budget of each tracker's cache of rendered pages (None: 48 MB); a benchmark timing the client sizes it to
    #: hold every page of a pass.
    page_cache_megabytes: int | None = None


class SandboxTrackers:
    """All six sandbox trackers; see the package docstring for the public API."""

    def __init__(self, config: SandboxConfig | None = None, /, **fields: Any) -> None:
        """`SandboxTrackers(SandboxConfig(...))`, or fields of the config as keywords (`SandboxTrackers(seed=3)`)."""
        self.config = config = replace(config or SandboxConfig(), **fields)
        ports = dict(config.ports or {})
        unknown = set(ports) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown tracker kinds in ports: {', '.join(sorted(unknown))}")
        self.seed = config.seed
        self.host = loopback_host(config.host)
        self.users: tuple[SandboxUser, ...] = sandbox_users(list(config.users) if config.users is not None else None)
        self._ports = {kind: int(ports.get(kind, 0)) for kind in KINDS}
        self._tokens = DEFAULT_TOKENS | dict(config.tokens or {})
        owner = self.users[0]
        self._usernames = {
            "github": owner.username,
            "gitlab": owner.username,
            "jira": owner.email,
            "youtrack": owner.username,
            "kimai": owner.username,
            "clockodo": owner.email,
        } | dict(config.usernames or {})
        self.stats = RequestStats(KINDS)
        self._faults = {kind: FaultInjector() for kind in KINDS}
        self._servers: dict[str, TrackerServer] = {}
        self._build_data(
            tasks={kind: _per_kind(config.task_count, kind, DEFAULT_TASK_COUNT) for kind in TASK_KINDS},
            entries={kind: _per_kind(config.entry_count, kind, DEFAULT_ENTRY_COUNT) for kind in ENTRY_KINDS},
            other_entries={kind: _per_kind(config.other_entry_count, kind) for kind in ENTRY_KINDS},
            merge_request_count=config.merge_request_count,
            pull_request_every=config.pull_request_every,
            prefixes={"kimai": config.kimai_code_prefix, "clockodo": config.clockodo_code_prefix},
        )
        self._apis = self._build_apis(
            estimate_field=config.youtrack_estimate_field,
            multi_assignee=config.youtrack_multi_assignee,
            github_rate_limit=config.github_rate_limit,
            clockodo_page_size=config.clockodo_page_size,
        )
        if config.page_cache_megabytes is not None:  # e.g. a benchmark's floor must not measure pages made again
            for api in self._apis.values():
                api.page_cache = PageCache(config.page_cache_megabytes * 1024 * 1024)
        self.set_latency(config.latency_ms)
        for rule in config.faults:
            rule = dict(rule)
            self.inject(rule.pop("kind"), **rule)

    # Construction

    def _build_data(self, *, tasks, entries, other_entries, merge_request_count, pull_request_every, prefixes):
        seed, users = self.seed, self.users
        self.pull_request_every = pull_request_every
        self.task_counts = dict(tasks)
        self.entry_counts = dict(entries)
        self._task_generators = {
            "github": TaskGenerator(
                seed=seed,
                salt="github",
                users=users,
                pull_request_every=pull_request_every,
                count=numbers_for_issues(tasks["github"], pull_request_every),
            ),
            "gitlab": TaskGenerator(seed=seed, salt="gitlab", users=users, count=tasks["gitlab"]),
            "gitlab-mr": TaskGenerator(
                seed=seed,
                salt="gitlab-mr",
                users=users,
                count=tasks["gitlab"] // 4 if merge_request_count is None else merge_request_count,
            ),
            "jira": TaskGenerator(seed=seed, salt="jira", users=users, count=tasks["jira"]),
            "youtrack": TaskGenerator(seed=seed, salt="youtrack", users=users, count=tasks["youtrack"]),
        }
        self._task_stores = {name: task_store(generator) for name, generator in self._task_generators.items()}
        github, youtrack = self._task_generators["github"], self._task_generators["youtrack"]
        mentions = {
            "kimai": MentionPlan(
                prefix=prefixes["kimai"],
                task_count=tasks["github"],
                number_of=lambda index: issue_number(index, pull_request_every),
                title_of=lambda index: github.title(issue_number(index, pull_request_every) - 1),
                max_number=github.count,
            ),
            "clockodo": MentionPlan(
                prefix=prefixes["clockodo"],
                task_count=tasks["youtrack"],
                number_of=lambda index: index + 1,
                title_of=youtrack.title,
                max_number=youtrack.count,
            ),
        }
        plans = {"kimai": (kimai_data, 1), "clockodo": (clockodo_data, 40001)}
        self._entry_generators = {}
        for kind, (data, first_id) in plans.items():
            others = other_entries[kind]
            self._entry_generators[kind] = EntryGenerator(
                seed=seed,
                salt=kind,
                seeded_count=entries[kind],
                other_count=entries[kind] // 10 if others is None else others,
                first_id=first_id,
                users=users,
                seeded_project=data.SEEDED_PLAN,
                other_projects=data.OTHER_PLANS,
                mentions=mentions[kind],
            )
        self._entry_stores = {kind: entry_store(generator) for kind, generator in self._entry_generators.items()}

    def _build_apis(self, *, estimate_field, multi_assignee, github_rate_limit, clockodo_page_size):
        def common(kind: str) -> dict:
            return {"token": self._tokens[kind], "username": self._usernames[kind], "users": self.users}

        def regions(kind: str) -> dict:
            generator = self._entry_generators[kind]
            seeded, other = generator.regions(others=False)[0], generator.regions(seeded=False)[0]
            return {"store": self._entry_stores[kind], "seeded_region": seeded, "other_region": other}

        stores = self._task_stores
        return {
            "github": GithubApi(store=stores["github"], rate_limit=github_rate_limit, **common("github")),
            "gitlab": GitlabApi(issues=stores["gitlab"], merge_requests=stores["gitlab-mr"], **common("gitlab")),
            "jira": JiraApi(store=stores["jira"], **common("jira")),
            "youtrack": YoutrackApi(
                store=stores["youtrack"],
                estimate_field=estimate_field,
                multi_assignee=multi_assignee,
                **common("youtrack"),
            ),
            "kimai": KimaiApi(**regions("kimai"), **common("kimai")),
            "clockodo": ClockodoApi(page_size=clockodo_page_size, **regions("clockodo"), **common("clockodo")),
        }

    # Life cycle

    def start(self) -> SandboxTrackers:
        if self._servers:
            return self
        try:
            for kind in KINDS:
                server = TrackerServer(
                    self.host,
                    self._ports[kind],
                    kind=kind,
                    api=self._apis[kind],
                    faults=self._faults[kind],
                    stats=self.stats,
                )
                self._servers[kind] = server
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        servers, self._servers = self._servers, {}
        for server in servers.values():
            server.stop()

    def __enter__(self) -> SandboxTrackers:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    # Addresses and credentials

    def base_url(self, kind: str) -> str:
        """``http://127.0.0.1:PORT`` of a running tracker (no trailing slash)."""
        _check_kind(kind)
        server = self._servers.get(kind)
        if server is None:
            raise RuntimeError("the sandbox trackers are not running; call start() first")
        return server.base_url

    def port(self, kind: str) -> int:
        return int(self.base_url(kind).rsplit(":", 1)[1])

    def api_location(self, kind: str, variant: str | None = None) -> str:
        """The browser URL a user would copy for the seeded project (see the package docstring for variants)."""
        base = self.base_url(kind)
        locations = {
            "github": {None: "/acme/webshop", "issue": "/acme/webshop/issues/1", "ssh": None},
            "gitlab": {None: "/acme/webshop", "issue": "/acme/webshop/-/issues/1"},
            "jira": {
                None: "/browse/SHOP-1",
                "project": "/projects/SHOP",
                "board": "/jira/software/projects/SHOP/boards/1",
            },
            "youtrack": {None: "/projects/DEMO", "newIssue": "/newIssue?project=DEMO", "issue": "/issue/DEMO-1"},
            "kimai": {
                None: "/en/admin/project/1/details",
                "customer": "/en/admin/customer/1/details",
                "activity": "/en/admin/activity/4/details",
            },
            "clockodo": {None: "/en/projectreports/report/?id=123"},
        }[kind]
        if variant not in locations or locations[variant] is None:
            raise ValueError(f"unknown api_location variant {variant!r} for {kind}")
        return base + locations[variant]

    def token(self, kind: str) -> str:
        _check_kind(kind)
        return self._tokens[kind]

    def username(self, kind: str) -> str:
        _check_kind(kind)
        return self._usernames[kind]

    def credentials(self) -> dict[str, dict[str, str]]:
        """``{kind: {"base_url", "api_location", "username", "token"}}`` of the running trackers."""
        return {
            kind: {
                "base_url": self.base_url(kind),
                "api_location": self.api_location(kind),
                "username": self.username(kind),
                "token": self.token(kind),
            }
            for kind in KINDS
        }

    # Statistics, faults, latency

    def reset_stats(self, kind: str | None = None) -> None:
        self.stats.reset(kind)

    def inject(self, kind: str, **options: Any) -> None:
        """Add a fault rule (see the package docstring); thread safe, effective for the next request."""
        _check_kind(kind)
        self._faults[kind].inject(**options)

    def clear_faults(self, kind: str | None = None) -> None:
        for name in [kind] if kind else KINDS:
            _check_kind(name)
            self._faults[name].clear()

    def set_latency(self, ms: int, kind: str | None = None) -> None:
        if ms < 0:
            raise ValueError("latency must not be negative")
        for name in [kind] if kind else KINDS:
            _check_kind(name)
            self._faults[name].latency_ms = ms

    # Reading seeded data

    def task(self, kind: str, code: int | str) -> TaskRecord | None:
        target = self._task_target(kind, code)
        return target.store.get(target.index) if target.index is not None else None

    def task_codes(self, kind: str) -> list[str]:
        """Codes of the existing issues (GitHub without pull requests; GitLab issues and ``!N`` MRs)."""
        prefix = _CODE_PREFIXES[kind]
        codes = [
            f"{prefix}{record.number}" for record in _records(self._task_stores[kind]) if not record.is_pull_request
        ]
        if kind == "gitlab":
            codes += [f"!{record.number}" for record in _records(self._task_stores["gitlab-mr"])]
        return codes

    def entry(self, kind: str, entry_id: int) -> EntryRecord | None:
        store = self._entry_store(kind)
        index = store.index_of(entry_id)
        return store.get(index) if index is not None else None

    def entry_ids(self, kind: str, *, all_projects: bool = False) -> list[int]:
        """Ids of the existing entries of the seeded project (or of every project)."""
        seeded = (kimai_data if kind == "kimai" else clockodo_data).SEEDED_PROJECT_ID
        return [record.id for record in _records(self._entry_store(kind)) if all_projects or record.project == seeded]

    # Mutations

    def update_task(
        self,
        kind: str,
        code: int | str,
        *,
        title: str | None = None,
        state: str | None = None,
        assignees: Iterable[str] | None = None,
        estimate: int | None = None,
    ) -> TaskRecord:
        """Change a task upstream; ``updated`` becomes now. ``KeyError`` for an unknown task."""
        target = self._existing_task(kind, code)
        record = target.store.get(target.index)
        changes: dict[str, Any] = {"updated": max(now(), record.updated + 1)}
        if title is not None:
            changes["title"] = title
        if state is not None:
            if state not in ("open", "in_progress", "closed"):
                raise ValueError("state must be open, in_progress or closed")
            closed = state == "closed"
            changes |= {
                "state": state,
                "closed": changes["updated"] if closed else None,
                "resolution": "completed" if closed else None,
            }
        if assignees is not None:
            changes["assignees"] = tuple(self._user_index(name) for name in assignees)
        if estimate is not None:
            changes["estimate"] = estimate
        return target.store.change(target.index, **changes)

    def delete_task(self, kind: str, code: int | str) -> None:
        target = self._existing_task(kind, code)
        target.store.delete(target.index)

    def add_task(self, kind: str, *, title: str, merge_request: bool = False) -> int:
        """Add an open task created now; returns its number."""
        name = "gitlab-mr" if kind == "gitlab" and merge_request else kind
        if name not in self._task_stores:
            raise ValueError(f"{kind} holds no tasks")
        generator = self._task_generators[name]
        return self._task_stores[name].add(lambda index: generator.new_record(index, title=title)).number

    def update_entry(
        self,
        kind: str,
        entry_id: int,
        *,
        text: str | None = None,
        duration: int | None = None,
        begin: datetime | None = None,
    ) -> EntryRecord:
        """Change a work entry upstream; its modification time becomes now. ``KeyError`` if unknown."""
        store = self._entry_store(kind)
        index = self._existing_entry_index(store, entry_id)
        record = store.get(index)
        changes: dict[str, Any] = {"modified": max(now(), record.modified + 1)}
        if text is not None:
            changes["text"] = text
        if duration is not None:
            changes["duration"] = duration
        if begin is not None:
            changes["begin"] = from_datetime(begin)
        return store.change(index, **changes)

    def delete_entry(self, kind: str, entry_id: int) -> None:
        store = self._entry_store(kind)
        store.delete(self._existing_entry_index(store, entry_id))

    def add_entry(
        self,
        kind: str,
        *,
        text: str,
        begin: datetime,
        duration: int,
        user: str | None = None,
        project: int | None = None,
        activity: int | None = None,
    ) -> int:
        """Add a work entry (default: seeded project, first activity/service, first user); returns its id."""
        generator = self._entry_generators.get(kind)
        if generator is None:
            raise ValueError(f"{kind} holds no work entries")
        plan = generator.seeded_project
        project = plan.project_id if project is None else project
        activity = plan.activity_ids[0] if activity is None else activity
        user_index = self._user_index(user) if user else 0
        return (
            self._entry_stores[kind]
            .add(
                lambda index: generator.new_record(
                    index,
                    text=text,
                    begin=from_datetime(begin),
                    duration=duration,
                    user=user_index,
                    project=project,
                    activity=activity,
                )
            )
            .id
        )

    # Helpers

    def _task_target(self, kind: str, code: int | str) -> _TaskTarget:
        if kind not in TASK_KINDS:
            raise ValueError(f"{kind} holds no tasks")
        name, text = kind, str(code).strip()
        if kind == "gitlab" and text.startswith("!"):
            name, text = "gitlab-mr", text[1:]
        prefix = _CODE_PREFIXES[kind]
        if text.upper().startswith(prefix):
            text = text[len(prefix) :]
        if not text.isdigit():
            raise ValueError(f"not a {kind} task code: {code!r}")
        store = self._task_stores[name]
        return _TaskTarget(store, self._task_generators[name], store.index_of(int(text)))

    def _existing_task(self, kind: str, code: int | str) -> _TaskTarget:
        target = self._task_target(kind, code)
        if target.index is None or target.store.get(target.index) is None:
            raise KeyError(f"no {kind} task {code!r}")
        return target

    def _entry_store(self, kind: str) -> LazyStore:
        if kind not in self._entry_stores:
            raise ValueError(f"{kind} holds no work entries")
        return self._entry_stores[kind]

    @staticmethod
    def _existing_entry_index(store: LazyStore, entry_id: int) -> int:
        index = store.index_of(entry_id)
        if index is None or store.get(index) is None:
            raise KeyError(f"no work entry {entry_id}")
        return index

    def _user_index(self, username: str) -> int:
        for user in self.users:
            if username in (user.username, user.email):
                return user.index
        raise ValueError(f"unknown sandbox user {username!r}")

    def __repr__(self) -> str:
        state = ", ".join(f"{kind}={server.base_url}" for kind, server in self._servers.items()) or "stopped"
        return f"SandboxTrackers(seed={self.seed}, {state})"


def _per_kind(value: int | Mapping[str, int] | None, kind: str, default: int | None = None) -> int | None:
    """The count of one kind from an int for all kinds or a ``{kind: count}`` dict (missing kinds: default)."""
    if value is None or isinstance(value, int):
        return value
    return value.get(kind, default)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown tracker kind {kind!r}; use one of {', '.join(KINDS)}")


def _records(store: LazyStore):
    for index in range(store.total):
        record = store.get(index)
        if record is not None:
            yield record
