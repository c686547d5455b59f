"""The report views: their names, their SQL (read from `sql/<name>.sql`) and the statements that manage them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPORT_SCHEMA = "report"
# Creation order; the views do not depend on each other, so any order works for dropping too.
VIEW_NAMES = ("task", "work", "assignee", "contribution", "unmatched_work")

_SQL_FOLDER = Path(__file__).resolve().parent / "sql"
_COMMENT_PREFIX = "Siisurit report view, columns documented in docs/reports.md; definition sha256:"
_SAFE_NAME = re.compile(r"^[a-z][a-z_]*$")


@dataclass(frozen=True)
class ReportView:
    name: str
    query: str

    @property
    def qualified_name(self) -> str:
        return f"{REPORT_SCHEMA}.{self.name}"

    @property
    def fingerprint(self) -> str:
        """Identifies the definition, stored in the view's comment so an unchanged view need not be replaced."""
        return hashlib.sha256(self.query.encode()).hexdigest()[:16]

    @property
    def comment(self) -> str:
        return _COMMENT_PREFIX + self.fingerprint

    def create_statement(self) -> str:
        return f"create or replace view {self.qualified_name} as\n{self.query}"

    def comment_statement(self) -> str:
        # The comment holds only fixed text and hex digits, so quoting it literally is safe.
        return f"comment on view {self.qualified_name} is '{self.comment}'"

    def drop_statement(self) -> str:
        return f"drop view if exists {self.qualified_name}"


def create_schema_statement() -> str:
    return f"create schema if not exists {REPORT_SCHEMA}"


@cache
def report_views() -> tuple[ReportView, ...]:
    """All report views in creation order, their queries read from the package's `sql` folder."""
    return tuple(ReportView(name, _query_of(name)) for name in VIEW_NAMES)


def _query_of(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"report view name must be lower case letters and underscores: {name!r}")
    query = (_SQL_FOLDER / f"{name}.sql").read_text(encoding="utf-8").strip()
    return query.removesuffix(";").rstrip()
