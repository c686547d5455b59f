"""Seeded tasks (issues, pull/merge requests) of a task tracker, generated per index."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.people import SandboxUser
from sandbox.rng import ItemRandom, salt_of
from sandbox.timeline import END, SPAN, START, now

#: ``updated - created`` of generated tasks never exceeds this (lets ``since`` filters bisect on ``created``).
MAX_UPDATE_LAG = 120 * 86400

_VERBS = ("Fix", "Add", "Improve", "Refactor", "Document", "Remove", "Update", "Test", "Investigate", "Speed up")
_OBJECTS = (
    "rounding error",
    "login form",
    "checkout total",
    "search filter",
    "CSV export",
    "invoice PDF",
    "password reset",
    "product images",
    "shipping rates",
    "order history",
    "newsletter signup",
    "cart badge",
    "API pagination",
    "discount codes",
    "tax calculation",
    "admin dashboard",
    "stock warnings",
    "gift cards",
)
_PLACES = ("in checkout", "on mobile", "for guests", "in the admin", "for EU customers", "after payment", "", "", "")
_LABELS = ("bug", "enhancement", "documentation", "performance", "ux", "security")
_ESTIMATE_HOURS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 40)


@dataclass(frozen=True, slots=True)
class TaskCore:
    state: str
    resolution: str | None
    created: int
    updated: int
    closed: int | None


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A tracker-neutral task; each API module renders it in its own format."""

    index: int
    number: int
    title: str
    description: str
    #: "open", "in_progress" or "closed"
    state: str
    #: "completed" or "not_planned" when closed (GitLab MRs: "merged" or "not_planned")
    resolution: str | None
    created: int
    updated: int
    closed: int | None
    reporter: int
    assignees: tuple[int, ...]
    #: seconds, None = no estimate
    estimate: int | None
    #: seconds, None = nothing logged
    spent: int | None
    labels: tuple[str, ...]
    comments: int
    is_pull_request: bool = False
    millis: int = 0


def issue_number(issue_index: int, pull_request_every: int) -> int:
    """Number of the ``issue_index``-th issue when every ``pull_request_every``-th number is a pull request."""
    if pull_request_every <= 1:
        return issue_index + 1
    per_block = pull_request_every - 1
    block, offset = divmod(issue_index, per_block)
    return block * pull_request_every + offset + 1


def numbers_for_issues(issue_count: int, pull_request_every: int) -> int:
    """How many numbers (issues and pull requests) are needed for ``issue_count`` issues."""
    return issue_number(issue_count - 1, pull_request_every) if issue_count > 0 else 0


class TaskGenerator:
    """Tasks of one tracker; task i (number i + 1) depends only on (seed, kind, i)."""

    def __init__(
        self, *, seed: int, salt: str, count: int, users: tuple[SandboxUser, ...], pull_request_every: int = 0
    ) -> None:
        self.seed = seed
        self.salt = salt_of(salt)
        self.count = count
        self.users = users
        self.pull_request_every = pull_request_every
        self._step = SPAN * 0.85 / max(count, 1)

    def is_pull_request(self, number: int) -> bool:
        return self.pull_request_every > 1 and number % self.pull_request_every == 0

    def position(self, index: int) -> int:
        return self.core(index).created

    def _core(self, index: int) -> tuple[TaskCore, ItemRandom]:
        rng = ItemRandom(self.seed, self.salt, index)
        created = START + int((index + rng.random() * 0.9) * self._step)
        updated = min(created + rng.randint(0, MAX_UPDATE_LAG), END)
        progress = index / max(self.count, 1)
        closed = resolution = None
        if rng.chance(0.85 - 0.6 * progress):
            state = "closed"
            closed = created + int((updated - created) * (0.5 + rng.random() * 0.5))
            resolution = "not_planned" if rng.chance(0.1) else "completed"
        else:
            state = "in_progress" if rng.chance(0.3) else "open"
        return TaskCore(state=state, resolution=resolution, created=created, updated=updated, closed=closed), rng

    def core(self, index: int) -> TaskCore:
        return self._core(index)[0]

    def title(self, index: int) -> str:
        rng = ItemRandom(self.seed, self.salt ^ 0x5A5A, index)
        return " ".join(part for part in (rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_PLACES)) if part)

    def record(self, index: int) -> TaskRecord:
        core, rng = self._core(index)
        number = index + 1
        user_count = len(self.users)
        roll = rng.random()
        assignee_count = 0 if roll < 0.2 else (1 if roll < 0.85 else 2)
        first = rng.randint(0, user_count - 1)
        assignees = tuple(sorted({(first + offset) % user_count for offset in range(assignee_count)}))
        estimate = rng.choice(_ESTIMATE_HOURS) * 3600 if rng.chance(0.6) else None
        spent = None
        if core.state != "open" and rng.chance(0.7):
            spent = rng.randint(1, 32) * 1800
        labels = tuple(sorted({rng.choice(_LABELS) for _ in range(rng.randint(0, 2))}))
        title = self.title(index)
        return TaskRecord(
            index=index,
            number=number,
            title=title,
            description=f"{title}.\n\nSeen by {self.users[first].full_name}; steps to reproduce in the comments.",
            state=core.state,
            resolution=core.resolution,
            created=core.created,
            updated=core.updated,
            closed=core.closed,
            reporter=rng.randint(0, user_count - 1),
            assignees=assignees,
            estimate=estimate,
            spent=spent,
            labels=labels,
            comments=rng.randint(0, 12),
            is_pull_request=self.is_pull_request(number),
            millis=rng.randint(0, 999),
        )

    def new_record(self, index: int, *, title: str, reporter: int = 0) -> TaskRecord:
        """A task added at runtime (created now, open)."""
        moment = now()
        return TaskRecord(
            index=index,
            number=index + 1,
            title=title,
            description="",
            state="open",
            resolution=None,
            created=moment,
            updated=moment,
            closed=None,
            reporter=reporter,
            assignees=(),
            estimate=None,
            spent=None,
            labels=(),
            comments=0,
            is_pull_request=False,
        )
