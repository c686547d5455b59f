"""What an organization update created, updated, left unchanged and removed, per entity kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["created", "updated", "unchanged", "removed"]
ACTIONS: tuple[Action, ...] = ("created", "updated", "unchanged", "removed")
KINDS = (
    "organization",
    "organization profile",
    "user mapping",
    "user mapping entry",
    "project",
    "tracker",
    "declared task",
    "work match",
    # Only ever removed, together with a removed tracker:
    "downloaded task",
    "work entry",
)


@dataclass
class Change:
    kind: str
    action: Action
    label: str
    detail: str = ""

    def __str__(self) -> str:
        verb = {"created": "create", "updated": "update", "unchanged": "keep", "removed": "remove"}[self.action]
        text = f"{verb} {self.kind} {self.label}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class ChangeSummary:
    """Counts per kind and action, and one `Change` per entity (in the order they were applied)."""

    organization_code: str
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {kind: dict.fromkeys(ACTIONS, 0) for kind in KINDS}
    )

    def record(self, kind: str, action: Action, label: str, detail: str = "", count: int = 1) -> None:
        self.counts[kind][action] += count
        self.changes.append(Change(kind, action, label, detail))

    def add_removed(self, kind: str, count: int) -> None:
        """Entities removed along with another one (e.g. work entries of a removed tracker), counted only."""
        self.counts[kind]["removed"] += count

    @property
    def has_changes(self) -> bool:
        return any(counts[action] for counts in self.counts.values() for action in ("created", "updated", "removed"))

    def total(self, action: Action) -> int:
        return sum(counts[action] for counts in self.counts.values())

    def table_lines(self) -> list[str]:
        """A table of the counts; kinds that never occurred are left out."""
        width = max(len(kind) for kind in KINDS)
        lines = [f"{'':{width}}  " + "  ".join(f"{action:>9}" for action in ACTIONS)]
        for kind, counts in self.counts.items():
            if any(counts.values()):
                lines.append(f"{kind:{width}}  " + "  ".join(f"{counts[action]:>9}" for action in ACTIONS))
        return lines

    def as_dict(self) -> dict:
        return {"organization": self.organization_code, "dry_run": self.dry_run, "counts": self.counts}
