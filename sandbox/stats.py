"""Per-kind request counters of the sandbox (requests, 304 answers, injected faults, statuses)."""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    """``stats[kind]`` -> ``{"requests", "not_modified", "faults", "statuses": {status: count}}`` (a snapshot)."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self._kinds = kinds
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._statuses: dict[str, Counter[int]] = {kind: Counter() for kind in kinds}

    def record(self, kind: str, status: int | None, *, fault: bool = False) -> None:
        """Count one request; ``status`` None = the connection was dropped."""
        with self._lock:
            self._requests[kind] += 1
            if fault:
                self._faults[kind] += 1
            if status is not None:
                self._statuses[kind][status] += 1

    def __getitem__(self, kind: str) -> dict:
        if kind not in self._statuses:
            raise KeyError(kind)
        with self._lock:
            statuses = dict(self._statuses[kind])
            return {
                "requests": self._requests[kind],
                "not_modified": statuses.get(304, 0),
                "faults": self._faults[kind],
                "statuses": statuses,
            }

    def snapshot(self) -> dict[str, dict]:
        return {kind: self[kind] for kind in self._kinds}

    def reset(self, kind: str | None = None) -> None:
        with self._lock:
            for name in [kind] if kind else self._kinds:
                self._requests[name] = 0
                self._faults[name] = 0
                self._statuses[name].clear()

    def __repr__(self) -> str:
        return f"RequestStats({self.snapshot()!r})"
