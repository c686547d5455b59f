"""Readable text for a job's JSON summary: counts, ids left out, nested summaries on lines of their own."""

from __future__ import annotations

from typing import Any

# Keys that identify rather than describe: shown in the JSON summary (verbosity 2), not in the readable one.
_HIDDEN_KEYS = frozenset({"job", "project_id", "tracker_id", "duration_seconds", "duration"})
_LABEL_KEYS = ("tracker", "project", "name")


def _is_list_of_summaries(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def summary_text(summary: dict[str, Any], *, skip: frozenset[str] = frozenset()) -> str:
    """`key value, …` of one summary level; small mappings in parentheses, empty lists and ids left out."""
    parts = []
    for key, value in summary.items():
        if key in _HIDDEN_KEYS or key in skip or _is_list_of_summaries(value) or value in ([], {}):
            continue
        name = key.replace("_", " ")
        if isinstance(value, dict):
            parts.append(f"{name} ({', '.join(f'{inner} {count}' for inner, count in value.items())})")
        elif isinstance(value, list):
            parts.append(f"{name} {', '.join(map(str, value))}")
        else:
            parts.append(f"{name} {value}")
    return ", ".join(parts)


def summary_lines(summary: dict[str, Any], *, indent: str = "  ") -> list[str]:
    """The summary as indented lines: its own values, then a line per nested summary (downloads, match, …)."""
    lines = [f"{indent}{text}"] if (text := summary_text(summary, skip=_nested_keys(summary))) else []
    for key, value in summary.items():
        name = key.replace("_", " ")
        if isinstance(value, dict) and value and key not in _HIDDEN_KEYS:
            lines.append(f"{indent}{name}: {summary_text(value)}")
        elif _is_list_of_summaries(value):
            for item in value:
                label_key = next((label for label in _LABEL_KEYS if label in item), "")
                label = f" {item[label_key]}" if label_key else ""
                lines.append(f"{indent}{name}{label}: {summary_text(item, skip=frozenset({label_key}))}")
    return lines


def _nested_keys(summary: dict[str, Any]) -> frozenset[str]:
    return frozenset(key for key, value in summary.items() if isinstance(value, dict))
