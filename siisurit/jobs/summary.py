"""Job summaries small enough for Flower and the result backend (details stay in the logs)."""

from __future__ import annotations

import json
from typing import Any

#: Celery shows a result in its events (and so in Flower) cut at 1024 characters of its repr; the queue adds
#: retries, attempts and the time since enqueued after compaction.
SUMMARY_MAX_CHARACTERS = 900
# Keys a reader of a compacted summary does not miss: ids are in the job's arguments, the rest in the log line.
_DETAIL_KEYS = frozenset({"kind", "pages", "requests", "not_modified", "duration", "statements"})
# Top-level keys a compacted summary keeps: what the job was and what it was about (a result names its subject).
_KEPT_KEYS = frozenset({"job", "duration_seconds", "project_id", "tracker_id"})


def _size(value: Any) -> int:
    return len(repr(value))


def _is_noise(key: str, value: Any) -> bool:
    return key.endswith("_id") or key in _DETAIL_KEYS or value in (0, None, "", [], {}) or value is False


def _pruned(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if not _is_noise(key, value)}


def _label(item: dict[str, Any]) -> str:
    return str(item.get("tracker") or item.get("project") or item.get("name") or "?")


def _line(item: dict[str, Any]) -> str:
    return ", ".join(
        f"{key} {json.dumps(value) if isinstance(value, dict | list) else value}"
        for key, value in _pruned(item).items()
        if key not in ("tracker", "project", "name")
    )


def summary_compact(summary: dict[str, Any], *, limit: int = SUMMARY_MAX_CHARACTERS) -> dict[str, Any]:
    """`summary` itself when small; else ids, details and zeros dropped, lists of summaries as one line per
    label, and as a last resort nested values counted only: the top-level counts always stay."""
    if _size(summary) <= limit:
        return summary
    compact: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            compact[key] = {_label(item): _line(item) for item in value}
        elif isinstance(value, dict):
            compact[key] = _pruned(value)
        elif key in _KEPT_KEYS or not _is_noise(key, value):
            compact[key] = value
    if _size(compact) <= limit:
        return compact
    return {
        key: (len(value) if isinstance(value, dict | list) else value)
        for key, value in compact.items()
        if not isinstance(value, str) or len(value) <= 200
    }
