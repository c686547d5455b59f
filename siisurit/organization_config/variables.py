"""`${NAME}` in organization files: expanded only in the fields that hold secrets or addresses.

`${NAME}` is the variable NAME of the environment or `.env`, `${NAME:-default}` falls back to `default` when NAME is
unset or empty, `$${NAME}` is the literal text `${NAME}`. Only `EXPANDED_KEYS` expand variables: anywhere else a
value would end up in tables the report role reads. Variables of Siisurit's own configuration (`SII_*`) are never
expanded: an organization file must not read the server's secrets. Problems never show a variable's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Lookup = Callable[[str], "str | None"]

EXPANDED_KEYS = frozenset({"api_token", "api_username", "api_location", "api_base_url"})
SERVER_VARIABLE_PREFIX = "SII_"
_VARIABLE_PATTERN = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ONLY_IN = ", ".join(sorted(EXPANDED_KEYS))


def variables_expanded(text: str, *, lookup: Lookup) -> tuple[str, list[str]]:
    """`text` with its variables replaced, and the problems found (undefined or server variables)."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped, name, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        if name.upper().startswith(SERVER_VARIABLE_PREFIX):
            problems.append(
                f"${{{name}}} is a variable of Siisurit's own configuration: organization files cannot read "
                f"{SERVER_VARIABLE_PREFIX}* variables (use another name)"
            )
            return ""
        value = lookup(name)
        if not value and default is not None:
            return default
        if value is None:
            problems.append(f"undefined variable ${{{name}}} (set it in the environment or .env)")
            return ""
        return value

    return (_VARIABLE_PATTERN.sub(replace, text) if "$" in text else text), problems


def variables_refused(text: str) -> tuple[str, list[str]]:
    """`text` of a field that expands no variables: `$${NAME}` becomes `${NAME}`, `${NAME}` is a problem."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]
        problems.append(
            f"${{{match.group(2)}}}: variables are only expanded in {_ONLY_IN} (write $${{…}} for the literal text)"
        )
        return match.group(0)

    return (_VARIABLE_PATTERN.sub(replace, text) if "$" in text else text), problems
