"""The decision of each work match kind for one work entry: the single implementation used by engine and explanation.

`Rule.decide(text, breadcrumb_trail, external_task_id)` returns a `Decision`, a plain tuple
`(task_id | None, reason, value)` (tuples rather than objects because the engine calls it millions of times);
`value` is the extracted code or the looked-up external task id, if any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from siisurit.matching.bounds import PatternTimeoutError, bounded_search
from siisurit.models import MatchOn

TASK_CODE_GROUP = "task_code"


class Reason(StrEnum):
    """Why a rule did or did not apply to a work entry."""

    MATCHED = "matched"
    TEXT_PATTERN_DID_NOT_MATCH = "text_pattern_did_not_match"
    BREADCRUMB_TRAIL_PATTERN_DID_NOT_MATCH = "breadcrumb_trail_pattern_did_not_match"
    NO_TASK_CODE_EXTRACTED = "no_task_code_extracted"
    NO_TASK_WITH_CODE = "no_task_with_code"
    NO_EXTERNAL_TASK_ID = "no_external_task_id"
    NO_TASK_WITH_EXTERNAL_ID = "no_task_with_external_id"
    NO_TASK_WITH_URL = "no_task_with_url"
    INVALID_RULE = "invalid_rule"
    PATTERN_TIMED_OUT = "pattern_timed_out"
    # Decided by the evaluation order rather than by the rule itself:
    SOURCE_TRACKER_NOT_LISTED = "source_tracker_not_listed"
    NOT_TRIED_EARLIER_RULE_MATCHED = "not_tried_earlier_rule_matched"


Decision = tuple[str | None, Reason, str | None]
#: A bounded pattern search (`siisurit.matching.bounds.bounded_search`): text -> match or None.
Search = Callable[[str], Any]


class TaskLookup(Protocol):
    """Task ids of one tracker by code, external id or URL (a dict in the engine, queries in explanations)."""

    def get(self, key: str, /) -> str | None: ...


# (task tracker id, field) -> lookup, field being "code", "external_id" or "url".
LookupFactory = Callable[[str, str], TaskLookup]


@dataclass(frozen=True)
class WorkMatchRow:
    """What the rules need of a `WorkMatch`; ids are strings."""

    id: str
    tracker_id: str
    tracker_name: str
    tracker_position: int
    match_on: str
    priority: int
    position: int
    source_tracker_ids: frozenset[str]
    target_task_id: str | None
    text_pattern: str
    breadcrumb_trail_pattern: str
    source_line: int | None = None

    @property
    def label(self) -> str:
        """The rule as an admin finds it: tracker, position and line in the organization file."""
        line = f", line {self.source_line} of the organization file" if self.source_line else ""
        return f"work match #{self.position + 1} of tracker '{self.tracker_name}'{line}"

    @property
    def evaluation_order(self) -> tuple[int, int, str, int, str]:
        """Priority, then the declaration order of the file: tracker, then rule (the name only separates trackers
        made by hand, which share position 0)."""
        return (-self.priority, self.tracker_position, self.tracker_name, self.position, self.id)


class Rule:
    """A compiled work match; `failure` says why it stopped applying during this run (a pattern timed out)."""

    __slots__ = ("failure", "row", "work_match_id")

    def __init__(self, row: WorkMatchRow) -> None:
        self.row = row
        self.work_match_id = row.id
        self.failure: str | None = None

    def applies_to(self, work_tracker_id: str) -> bool:
        return work_tracker_id in self.row.source_tracker_ids

    def decide(self, text: str, breadcrumb_trail: str, external_task_id: str) -> Decision:
        raise NotImplementedError


class InvalidRule(Rule):
    __slots__ = ("_decision", "error")

    def __init__(self, row: WorkMatchRow, error: str) -> None:
        super().__init__(row)
        self.error = error
        self._decision: Decision = (None, Reason.INVALID_RULE, error)

    def decide(self, text: str, breadcrumb_trail: str, external_task_id: str) -> Decision:
        return self._decision


class AlwaysToTaskRule(Rule):
    __slots__ = ("_decision",)

    def __init__(self, row: WorkMatchRow) -> None:
        super().__init__(row)
        self._decision: Decision = (row.target_task_id, Reason.MATCHED, None)

    def decide(self, text: str, breadcrumb_trail: str, external_task_id: str) -> Decision:
        return self._decision


_NO_EXTERNAL_TASK_ID: Decision = (None, Reason.NO_EXTERNAL_TASK_ID, None)


class ExternalTaskIdRule(Rule):
    """The entry's external task id equals a task's external id or URL."""

    __slots__ = ("_get", "_missing_reason")

    def __init__(self, row: WorkMatchRow, lookup: TaskLookup, missing_reason: Reason) -> None:
        super().__init__(row)
        self._get = lookup.get
        self._missing_reason = missing_reason

    def decide(self, text: str, breadcrumb_trail: str, external_task_id: str) -> Decision:
        key = external_task_id.strip()
        if not key:
            return _NO_EXTERNAL_TASK_ID
        task_id = self._get(key)
        if task_id is None:
            return (None, self._missing_reason, key)
        return (task_id, Reason.MATCHED, key)


_TEXT_DID_NOT_MATCH: Decision = (None, Reason.TEXT_PATTERN_DID_NOT_MATCH, None)
_BREADCRUMB_DID_NOT_MATCH: Decision = (None, Reason.BREADCRUMB_TRAIL_PATTERN_DID_NOT_MATCH, None)
_NO_CODE: Decision = (None, Reason.NO_TASK_CODE_EXTRACTED, None)


class _PatternRule(Rule):
    """A rule with patterns: a search running past its time bound stops the rule for the rest of the run."""

    __slots__ = ("_breadcrumb_search", "_text_search")

    def __init__(self, row: WorkMatchRow, text: Search | None, breadcrumb: Search | None) -> None:
        super().__init__(row)
        self._text_search = text
        self._breadcrumb_search = breadcrumb

    def decide(self, text: str, breadcrumb_trail: str, external_task_id: str) -> Decision:
        if self.failure is not None:
            return (None, Reason.PATTERN_TIMED_OUT, self.failure)
        try:
            return self._decide(text, breadcrumb_trail)
        except PatternTimeoutError as timeout:
            self.failure = f"{timeout}; the rule was skipped"
            return (None, Reason.PATTERN_TIMED_OUT, self.failure)

    def _decide(self, text: str, breadcrumb_trail: str) -> Decision:
        raise NotImplementedError


class PatternToTaskRule(_PatternRule):
    __slots__ = ("_decision",)

    def __init__(self, row: WorkMatchRow, text: Search | None, breadcrumb: Search | None) -> None:
        super().__init__(row, text, breadcrumb)
        self._decision: Decision = (row.target_task_id, Reason.MATCHED, None)

    def _decide(self, text: str, breadcrumb_trail: str) -> Decision:
        if self._text_search is not None and self._text_search(text) is None:
            return _TEXT_DID_NOT_MATCH
        if self._breadcrumb_search is not None and self._breadcrumb_search(breadcrumb_trail) is None:
            return _BREADCRUMB_DID_NOT_MATCH
        return self._decision


class PatternToTaskCodeRule(_PatternRule):
    __slots__ = ("_code_in_text", "_get")

    def __init__(
        self, row: WorkMatchRow, text: Search | None, breadcrumb: Search | None, code_in_text: bool, codes: TaskLookup
    ) -> None:
        super().__init__(row, text, breadcrumb)
        self._code_in_text = code_in_text
        self._get = codes.get

    def _decide(self, text: str, breadcrumb_trail: str) -> Decision:
        text_match = breadcrumb_match = None
        if self._text_search is not None:
            text_match = self._text_search(text)
            if text_match is None:
                return _TEXT_DID_NOT_MATCH
        if self._breadcrumb_search is not None:
            breadcrumb_match = self._breadcrumb_search(breadcrumb_trail)
            if breadcrumb_match is None:
                return _BREADCRUMB_DID_NOT_MATCH
        code = (text_match if self._code_in_text else breadcrumb_match).group(TASK_CODE_GROUP)
        if code is None or not (code := code.strip()):
            return _NO_CODE
        task_id = self._get(code)
        if task_id is None:
            return (None, Reason.NO_TASK_WITH_CODE, code)
        return (task_id, Reason.MATCHED, code)


def _compiled(pattern: str, name: str) -> Search | None:
    if not pattern:
        return None
    return bounded_search(pattern, name=name)


def _pattern_rule(row: WorkMatchRow, lookups: LookupFactory) -> Rule:
    text = _compiled(row.text_pattern, "text_pattern")
    breadcrumb = _compiled(row.breadcrumb_trail_pattern, "breadcrumb_trail_pattern")
    if text is None and breadcrumb is None:
        raise ValueError("text_pattern or breadcrumb_trail_pattern must be given")
    if row.match_on == MatchOn.PATTERN_TO_TASK:
        if row.target_task_id is None:
            raise ValueError("target_task is missing")
        return PatternToTaskRule(row, text, breadcrumb)
    code_in_text = text is not None and TASK_CODE_GROUP in text.groupindex
    code_in_breadcrumb = breadcrumb is not None and TASK_CODE_GROUP in breadcrumb.groupindex
    if code_in_text == code_in_breadcrumb:
        raise ValueError(f"exactly one of the patterns must have the group (?P<{TASK_CODE_GROUP}>…)")
    return PatternToTaskCodeRule(row, text, breadcrumb, code_in_text, lookups(row.tracker_id, "code"))


def rule_from_row(row: WorkMatchRow, lookups: LookupFactory) -> Rule:
    """The rule for a work match; an `InvalidRule` (never applies) if the row cannot work."""
    try:
        match row.match_on:
            case MatchOn.ALWAYS_TO_TASK:
                if row.target_task_id is None:
                    raise ValueError("target_task is missing")
                return AlwaysToTaskRule(row)
            case MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID:
                return ExternalTaskIdRule(row, lookups(row.tracker_id, "external_id"), Reason.NO_TASK_WITH_EXTERNAL_ID)
            case MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL:
                return ExternalTaskIdRule(row, lookups(row.tracker_id, "url"), Reason.NO_TASK_WITH_URL)
            case MatchOn.PATTERN_TO_TASK | MatchOn.PATTERN_TO_TASK_CODE:
                return _pattern_rule(row, lookups)
            case _:
                raise ValueError(f"unknown match_on {row.match_on!r}")
    except ValueError as error:
        return InvalidRule(row, str(error))


def first_match(
    rules: Sequence[Rule], text: str, breadcrumb_trail: str, external_task_id: str
) -> tuple[str, str] | None:
    """`(task_id, work_match_id)` of the first rule that applies, None if none does (the engine's loop).

    `rules` are those applying to the entry's tracker, in evaluation order (`ProjectRules.for_work_tracker`).
    """
    for rule in rules:
        task_id = rule.decide(text, breadcrumb_trail, external_task_id)[0]
        if task_id is not None:
            return task_id, rule.work_match_id
    return None


def rule_decisions(
    rules: Sequence[Rule], work_tracker_id: str, text: str, breadcrumb_trail: str, external_task_id: str
) -> Iterator[tuple[Rule, Decision]]:
    """Every rule in evaluation order with its decision, including the ones skipped or not tried (explanations)."""
    matched = False
    for rule in rules:
        if not rule.applies_to(work_tracker_id):
            yield rule, (None, Reason.SOURCE_TRACKER_NOT_LISTED, None)
        elif matched:
            yield rule, (None, Reason.NOT_TRIED_EARLIER_RULE_MATCHED, None)
        else:
            decision = rule.decide(text, breadcrumb_trail, external_task_id)
            matched = decision[0] is not None
            yield rule, decision
