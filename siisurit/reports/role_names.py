"""Checks of PostgreSQL role names before they reach SQL (where they are quoted as identifiers anyway)."""

from __future__ import annotations

from siisurit.errors import SiisuritError

# PostgreSQL silently truncates longer identifiers, which would grant rights to another role than intended.
MAX_ROLE_NAME_BYTES = 63
_RESERVED_ROLE_NAMES = frozenset({"public", "none", "current_user", "current_role", "session_user"})


class ReportUserError(SiisuritError):
    """The report role cannot be made as configured; the message says which setting or right is at fault."""


def role_name_checked(name: str, *, setting: str = "SII_POSTGRES_REPORT_USERNAME") -> str:
    """`name` unchanged if PostgreSQL can hold it as a role name without truncating it; ReportUserError if not."""
    if not name or not name.strip():
        raise ReportUserError(f"{setting} must not be empty")
    if len(name.encode("utf-8")) > MAX_ROLE_NAME_BYTES:
        raise ReportUserError(f"{setting} must have at most {MAX_ROLE_NAME_BYTES} bytes (UTF-8)")
    if "\x00" in name:
        raise ReportUserError(f"{setting} must not contain a NUL character")
    if name.lower() in _RESERVED_ROLE_NAMES or name.lower().startswith("pg_"):
        raise ReportUserError(f"{setting} names a reserved PostgreSQL role: {name!r}")
    return name
