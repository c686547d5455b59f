"""The small part of JQL the sandbox understands: project, updated/created bounds, ORDER BY."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.timeline import parse_instant

_PROJECT = re.compile(r"""\bproject\s*(?:=|\bin\b)\s*\(?\s*["']?([A-Za-z0-9_]+)["']?\s*\)?""", re.IGNORECASE)
_BOUND = re.compile(r"""\b(updated|created)\s*(>=|<=|>|<)\s*["']([^"']+)["']""", re.IGNORECASE)
_BARE_BOUND = re.compile(r"""\b(updated|created)\s*(>=|<=|>|<)\s*(\d{4}[-/]\d{2}[-/]\d{2})\b""", re.IGNORECASE)
_ORDER = re.compile(r"\border\s+by\s+(\w+)(?:\s+(asc|desc))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Jql:
    project: str | None
    #: (field, operator, epoch seconds) with field "updated" or "created"
    bounds: tuple[tuple[str, str, int], ...]
    order_field: str
    descending: bool


def parse_jql(text: str) -> Jql:
    """Parse the supported clauses (others are ignored); ``ValueError`` for unparsable dates."""
    project = _PROJECT.search(text)
    bounds = []
    for match in [*_BOUND.finditer(text), *_BARE_BOUND.finditer(text)]:
        field, operator, value = match.group(1).lower(), match.group(2), match.group(3).replace("/", "-")
        bounds.append((field, operator, parse_instant(value)))
    order = _ORDER.search(text)
    order_field = order.group(1).lower() if order else "key"
    descending = (order.group(2) or "asc").lower() == "desc" if order else True
    return Jql(project.group(1) if project else None, tuple(bounds), order_field, descending)


def matches_bounds(item, bounds: tuple[tuple[str, str, int], ...]) -> bool:
    for field, operator, value in bounds:
        # JQL compares to the minute.
        attribute = (item.updated if field == "updated" else item.created) // 60 * 60
        if (operator == ">=" and attribute < value) or (operator == ">" and attribute <= value):
            return False
        if (operator == "<=" and attribute > value) or (operator == "<" and attribute >= value):
            return False
    return True
