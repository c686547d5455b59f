"""Bounds of rule patterns: every regular expression search and every matching SQL statement has a time limit.

Patterns come from organization files and texts from trackers (anyone who can write a time sheet): a pattern that
backtracks catastrophically on some text must not hang a worker. Python searches run on the `regex` package with
its timeout; the SQL statements of a matching transaction get `SET LOCAL statement_timeout`. Every matching path
(engine, explanation, SQL-side decisions) takes its bounds from here. Nested unbounded repetitions such as `(a+)+`,
the classic cause, are refused when a file is imported (`nested_repetition`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# The standard library's parser is the only way to see a pattern's structure (private, but stable since 3.11).
from re import _constants as sre_constants
from re import _parser as sre_parser
from typing import Any

import regex
from django.conf import settings

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}


class PatternTimeoutError(Exception):
    """A pattern search took longer than SII_PATTERN_TIMEOUT_IN_MILLISECONDS."""


def pattern_timeout_seconds() -> float:
    return settings.SII_PATTERN_TIMEOUT_IN_MILLISECONDS / 1000


def bounded_search(pattern: str, *, name: str) -> Any:
    """The `search` of the compiled pattern, bounded in time (raises PatternTimeoutError); raises ValueError if invalid.

    The search returns a match object with `group()` like `re`'s, or None.
    """
    try:
        compiled = regex.compile(pattern)
    except (regex.error, re.error) as error:
        raise ValueError(f"{name} {pattern!r} is not a valid regular expression: {error}") from None
    search, timeout = compiled.search, pattern_timeout_seconds()

    def bounded(text: str) -> Any:
        try:
            # Positional (pos, endpos, concurrent, partial, timeout): the keyword form costs microseconds per call.
            return search(text, None, None, None, False, timeout)
        except TimeoutError:
            raise PatternTimeoutError(
                f"{name} {pattern!r} took longer than {settings.SII_PATTERN_TIMEOUT_IN_MILLISECONDS} ms on a work entry"
            ) from None

    bounded.groupindex = compiled.groupindex  # type: ignore[attr-defined]
    return bounded


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a rule's pattern (invalid, or known to backtrack badly), None if it can."""
    try:
        re.compile(pattern)
    except re.error as error:
        return f"bad regular expression {pattern!r}: {error}"
    if nested_repetition(pattern):
        return (
            f"{pattern!r} repeats a repetition (like (a+)+), which can take exponential time on some texts: rewrite "
            "it without the nesting, or make the inner part possessive (a++) or atomic ((?>…))"
        )
    return None


def nested_repetition(pattern: str) -> bool:
    """True if an unbounded repetition contains another one (`(a+)+`, `(\\w*\\s?)*`): exponential backtracking.

    Possessive (`a++`) and atomic (`(?>…)`) inner parts do not backtrack and are allowed.
    """
    try:
        parsed = sre_parser.parse(pattern)
    except (re.error, OverflowError, RecursionError):
        return False
    return _has_nested_repetition(parsed, inside_repetition=False)


def _has_nested_repetition(subpattern: Any, *, inside_repetition: bool) -> bool:
    for operation, argument in subpattern:
        if operation in _REPEATS:
            _, maximum, body = argument
            unbounded = maximum == sre_constants.MAXREPEAT
            if unbounded and inside_repetition:
                return True
            if _has_nested_repetition(body, inside_repetition=inside_repetition or unbounded):
                return True
        elif operation != sre_constants.ATOMIC_GROUP:
            for child in _subpatterns(argument):
                if _has_nested_repetition(child, inside_repetition=inside_repetition):
                    return True
    return False


def _subpatterns(argument: Any) -> Iterator[Any]:
    if isinstance(argument, sre_parser.SubPattern):
        yield argument
    elif isinstance(argument, tuple | list):
        for item in argument:
            yield from _subpatterns(item)


def statement_timeout_set(cursor: Any) -> None:
    """Bound every following SQL statement of the current transaction (`SET LOCAL`)."""
    cursor.execute(f"SET LOCAL statement_timeout = '{settings.SII_MATCH_STATEMENT_TIMEOUT_IN_SECONDS}s'")


def statement_timeout_message(project_label: str) -> str:
    return (
        f"matching project {project_label} stopped: one SQL statement ran longer than "
        f"{settings.SII_MATCH_STATEMENT_TIMEOUT_IN_SECONDS} s (SII_MATCH_STATEMENT_TIMEOUT_IN_SECONDS); a "
        "text_pattern or breadcrumb_trail_pattern may backtrack badly"
    )
