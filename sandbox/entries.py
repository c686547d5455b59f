"""Seeded work entries of a time tracker whose texts mention task codes of a paired task tracker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sandbox.people import SandboxUser
from sandbox.rng import ItemRandom, salt_of
from sandbox.timeline import WORKDAY_MINUTES, WORKDAYS, now, workday_instant

MAX_DURATION = 4 * 3600
#: ``modified - begin`` of generated entries never exceeds this (lets ``modified_after`` filters bisect).
MAX_MODIFIED_LAG = MAX_DURATION + 3 * 86400 + 3600
_WORK_MINUTES = WORKDAYS * WORKDAY_MINUTES * 0.98
_GENERIC_TEXTS = (
    "Daily standup",
    "Sprint planning",
    "Email and admin",
    "Customer call",
    "Team meeting",
    "Onboarding",
    "Deployment",
    "Code review",
    "Retrospective",
    "Support hotline",
    "Travel",
    "",
)
_MENTION_FORMATS = (
    "{code} {title}",
    "{code} {title}",
    "{code} {title}",
    "{code}: {lower}",
    "{title} ({code})",
    "Review {code}",
    "{code} {title}, part 2",
    "Pairing on {code}",
)


@dataclass(frozen=True, slots=True)
class EntryCore:
    project: int
    user: int
    begin: int
    duration: int
    modified: int


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """A tracker-neutral work entry; ``project``/``activity`` are the ids of the serving API."""

    index: int
    id: int
    project: int
    activity: int
    user: int
    begin: int
    duration: int
    text: str
    billable: bool
    created: int
    modified: int
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProjectPlan:
    """Which project entries book to and which activities (Kimai) or services (Clockodo) they use."""

    project_id: int
    activity_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MentionPlan:
    """Task codes entries may mention: ``prefix`` + ``number_of(task index)``; ``title_of`` for realism."""

    prefix: str
    task_count: int
    number_of: Callable[[int], int]
    title_of: Callable[[int], str]
    max_number: int


class EntryGenerator:
    """Entries ``0 .. seeded_count-1`` book to the seeded project, the next ``other_count`` to other projects."""

    def __init__(
        self,
        *,
        seed: int,
        salt: str,
        seeded_count: int,
        other_count: int,
        first_id: int,
        users: tuple[SandboxUser, ...],
        seeded_project: ProjectPlan,
        other_projects: tuple[ProjectPlan, ...],
        mentions: MentionPlan,
    ) -> None:
        self.seed = seed
        self.salt = salt_of(salt)
        self.seeded_count = seeded_count
        self.other_count = other_count
        self.first_id = first_id
        self.users = users
        self.seeded_project = seeded_project
        self.other_projects = other_projects
        self.mentions = mentions

    @property
    def count(self) -> int:
        return self.seeded_count + self.other_count

    def regions(self, seeded: bool = True, others: bool = True) -> list[tuple[int, int]]:
        return ([(0, self.seeded_count)] if seeded else []) + ([(self.seeded_count, self.count)] if others else [])

    def position(self, index: int) -> int:
        return self.core(index).begin

    def _core(self, index: int) -> tuple[EntryCore, ItemRandom, float]:
        rng = ItemRandom(self.seed, self.salt, index)
        if index < self.seeded_count:
            project, slot, slots = self.seeded_project.project_id, index, self.seeded_count
        else:
            slot, slots = index - self.seeded_count, self.other_count
            project = self.other_projects[rng.next64() % len(self.other_projects)].project_id
        progress = (slot + rng.random() * 0.9) / max(slots, 1)
        begin = workday_instant(progress * _WORK_MINUTES, 1)
        user = rng.randint(0, len(self.users) - 1)
        duration = rng.randint(1, 16) * 900 if rng.chance(0.9) else rng.randint(5, 239) * 60
        delay = rng.randint(0, 600) if rng.chance(0.6) else rng.randint(600, 3 * 86400)
        core = EntryCore(project=project, user=user, begin=begin, duration=duration, modified=begin + duration + delay)
        return core, rng, progress

    def core(self, index: int) -> EntryCore:
        return self._core(index)[0]

    def record(self, index: int) -> EntryRecord:
        core, rng, progress = self._core(index)
        plan = self.seeded_project
        if core.project != plan.project_id:
            plan = next(other for other in self.other_projects if other.project_id == core.project)
        return EntryRecord(
            index=index,
            id=self.first_id + index,
            project=core.project,
            activity=rng.choice(plan.activity_ids),
            user=core.user,
            begin=core.begin,
            duration=core.duration,
            text=self._text(rng, progress),
            billable=rng.chance(0.85),
            created=core.modified - rng.randint(0, 60) if core.modified - core.begin > 600 else core.modified,
            modified=core.modified,
            tags=("dev",) if rng.chance(0.3) else (),
        )

    def _text(self, rng: ItemRandom, progress: float) -> str:
        mentions = self.mentions
        roll = rng.random()
        if mentions.task_count <= 0 or 0.78 <= roll < 0.90:
            return rng.choice(_GENERIC_TEXTS)
        recent = min(mentions.task_count - 1, int(progress * mentions.task_count))
        task = max(0, recent - rng.randint(0, 40))
        code = f"{mentions.prefix}{mentions.number_of(task)}"
        title = mentions.title_of(task)
        if roll < 0.70:
            return rng.choice(_MENTION_FORMATS).format(code=code, title=title, lower=title.lower())
        if roll < 0.78:
            other = max(0, recent - rng.randint(0, 40))
            return f"{code}, {mentions.prefix}{mentions.number_of(other)} {title}"
        if roll < 0.95:
            return f"{_mistyped(mentions.prefix)}{mentions.number_of(task)} {title}"
        return f"{mentions.prefix}{mentions.max_number + rng.randint(1, 500)} {title}"

    def new_record(
        self, index: int, *, text: str, begin: int, duration: int, user: int, project: int, activity: int
    ) -> EntryRecord:
        moment = now()
        return EntryRecord(
            index=index,
            id=self.first_id + index,
            project=project,
            activity=activity,
            user=user,
            begin=begin,
            duration=duration,
            text=text,
            billable=True,
            created=moment,
            modified=moment,
        )


def _mistyped(prefix: str) -> str:
    """A near miss of a code prefix: ``# 12`` for ``#12``, ``DMEO-12`` for ``DEMO-12``."""
    letters = prefix.rstrip("-")
    rest = prefix[len(letters) :]
    if len(letters) >= 3 and letters.isalpha():
        return letters[0] + letters[2] + letters[1] + letters[3:] + rest
    if len(letters) == 2 and letters.isalpha():
        return letters[::-1] + rest
    return prefix + " "
