"""Deterministic, thread-safe fault injection: latency, error statuses, rate limits, broken connections."""

from __future__ import annotations

import threading
from dataclasses import dataclass

#: "status": answer ``status`` with the tracker's error body; "rate_limit" / "secondary_rate_limit": GitHub's 403
#: forms; "drop": close the socket without an answer; "truncate": valid HTTP with the JSON body cut in half;
#: "incomplete": Content-Length promises more bytes than are sent before the socket closes; "trickle": the body
#: arrives one byte every ``delay_ms``; "oversize": ``size`` bytes of JSON whitespace follow the body; "endless":
#: an empty page whose Link header names a next page, forever.
FAULTS = (
    "status",
    "rate_limit",
    "secondary_rate_limit",
    "drop",
    "truncate",
    "incomplete",
    "trickle",
    "oversize",
    "endless",
)


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request."""

    fault: str
    status: int | None = None
    retry_after: int | None = None
    reset_in: int = 60
    delay_ms: int = 0
    size: int = 0


@dataclass(slots=True)
class _Rule:
    fault: Fault
    remaining: int | None
    every: int | None
    path: str | None
    seen: int = 0


class FaultInjector:
    """Faults and latency of one tracker kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self.latency_ms = 0

    def inject(
        self,
        *,
        status: int | None = None,
        fault: str | None = None,
        count: int | None = 1,
        every: int | None = None,
        retry_after: int | None = None,
        reset_in: int = 60,
        path: str | None = None,
        delay_ms: int = 1000,
        size: int = 0,
    ) -> None:
        fault = fault or "status"
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
        if fault == "status" and not (status and 400 <= status <= 599):
            raise ValueError("a status fault needs an HTTP error status between 400 and 599")
        if every is not None and every < 1:
            raise ValueError("every must be at least 1")
        rule = _Rule(
            Fault(fault, status, retry_after, reset_in, delay_ms, size), remaining=count, every=every, path=path
        )
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, path: str) -> Fault | None:
        """The fault for this request, if any rule fires (rules are tried in order of injection)."""
        with self._lock:
            for rule in self._rules:
                if rule.path is not None and rule.path not in path:
                    continue
                rule.seen += 1
                if rule.every is not None and rule.seen % rule.every:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule.fault
        return None
