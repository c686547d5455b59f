"""Rules decided in PostgreSQL: translated patterns answer as Python's do; the match table's keys."""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, connection, transaction

from siisurit.matching.rules import TASK_CODE_GROUP
from siisurit.matching.service import project_match
from siisurit.matching.sql_patterns import sql_pattern
from siisurit.models import ApiKind, MatchOn, Task, WorkEntry, WorkEntryMatch, WorkMatch
from tests.factories import make_project, make_task, make_tracker, make_work_entry, make_work_match, stored_match

pytestmark = pytest.mark.django_db

_TEXTS = [
    "",
    "#12 fixed the login",
    "fixed #12",
    "ABC-7 Meeting",
    "abc-7 meeting\n",
    "Weekly MEETING\nnotes",
    "line\n#3",
    "  #44  ",
    "x_y z1 2",
    "a{b} [c] (d) $e ^f",
    "Besprechung für #5",
    "٣ digits",
    "ends with newline\n",
    "tab\there",
]
_PATTERNS = [
    r"^(?P<task_code>#\d+)",
    r"\A(?P<task_code>#\d+)",
    r"(?P<task_code>#\d+)",
    r"(?i)(?P<task_code>abc-\d+)",
    r"(?P<task_code>[A-Z]+-\d+)$",
    r"\s(?P<task_code>#\d{1,2})\b",
    r"(?i)meeting",
    r"meeting$",
    r"^line.#",
    r"\w+_\w+ \S+",
    r"[\[{}]",
    r"\{b\} \[c\]",
    r"(d|e)\)",
    r"[^a-z ]{2,}",
    r"f.r #\d",
    r"\bhere",
    r"\$e \^f",
]


@pytest.mark.parametrize("pattern", _PATTERNS)
def test_translated_patterns_answer_as_python_does(pattern):
    compiled = re.compile(pattern)
    extracts_code = TASK_CODE_GROUP in compiled.groupindex
    translated = sql_pattern(pattern, extracts_code=extracts_code)
    assert translated is not None, pattern
    with connection.cursor() as cursor:
        for text in _TEXTS:
            if translated.needs_ascii and not text.isascii():
                continue  # decided in Python
            cursor.execute("SELECT %s ~ %s, substring(%s from %s)", [text, translated.regex, text, translated.regex])
            matches, code = cursor.fetchone()
            found = compiled.search(text)
            assert matches == (found is not None), (pattern, text)
            if extracts_code:
                assert code == (found.group(TASK_CODE_GROUP) if found else None), (pattern, text)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?P<task_code>#\d+?)",
        r"(?<=x)y",
        r"(a)\1",
        r"(?s).",
        r"\x41",
        r"(?P<task_code>#\d|\w+)",
        r"a{,3}",
        r"(a|a)*$",  # may time out in Python: decided there, so that explanations agree
    ],
)
def test_patterns_python_alone_can_answer_are_not_translated(pattern):
    assert sql_pattern(pattern, extracts_code="task_code" in pattern) is None


def test_entries_sql_cannot_decide_exactly_are_decided_in_python():
    project = make_project()
    kimai = make_tracker(project, name="kimai", api_kind=ApiKind.KIMAI)
    github = make_tracker(project, name="github", api_kind=ApiKind.GITHUB)
    meetings = make_task(github, code="meetings", is_declared=True)
    rule = make_work_match(github, MatchOn.PATTERN_TO_TASK, [kimai], target_task=meetings, text_pattern="(?i)meeting")
    ascii_entry = make_work_entry(kimai, text="MEETING")
    # Python's case-insensitive match of non-ASCII text: the SQL query leaves it to Python.
    unicode_entry = make_work_entry(kimai, text="Meeting über Kosten")
    lazy_rule_project = make_project()
    lazy_kimai = make_tracker(lazy_rule_project, name="kimai", api_kind=ApiKind.KIMAI)
    lazy_github = make_tracker(lazy_rule_project, name="github", api_kind=ApiKind.GITHUB)
    task = make_task(lazy_github, code="#1")
    lazy_rule = make_work_match(
        lazy_github, MatchOn.PATTERN_TO_TASK_CODE, [lazy_kimai], text_pattern=r"(?P<task_code>#\d+?)"
    )
    lazy_entry = make_work_entry(lazy_kimai, text="#1 work")

    summary = project_match(project_id=str(project.id))
    project_match(project_id=str(lazy_rule_project.id))

    assert summary["matched"] == 2
    assert stored_match(ascii_entry)[:2] == stored_match(unicode_entry)[:2] == (meetings.id, rule.id)
    assert stored_match(lazy_entry)[:2] == (task.id, lazy_rule.id)


def _matched_entry():
    project = make_project()
    kimai = make_tracker(project, name="kimai", api_kind=ApiKind.KIMAI)
    github = make_tracker(project, name="github", api_kind=ApiKind.GITHUB)
    task = make_task(github, code="#1")
    rule = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], target_task=task)
    entry = make_work_entry(kimai, text="work")
    project_match(project_id=str(project.id))
    assert stored_match(entry)[:2] == (task.id, rule.id)
    return entry, task, rule


@pytest.mark.parametrize("deleted", ["entry", "task", "rule"])
def test_deleting_an_entry_task_or_rule_deletes_its_matches(deleted):
    entry, task, rule = _matched_entry()
    other_entry, _, _ = _matched_entry()

    {"entry": WorkEntry, "task": Task, "rule": WorkMatch}[deleted].objects.filter(
        id={"entry": entry, "task": task, "rule": rule}[deleted].id
    ).delete()

    assert not WorkEntryMatch.objects.filter(work_entry_id=entry.id).exists()
    assert WorkEntryMatch.objects.filter(work_entry_id=other_entry.id).exists()


def test_a_match_naming_a_missing_task_is_refused():
    entry, task, rule = _matched_entry()
    other = make_work_entry(entry.tracker)
    missing = Task(tracker=task.tracker, code="#missing")  # never saved

    with pytest.raises(IntegrityError, match="missing work entry, task or work match"), transaction.atomic():
        WorkEntryMatch.objects.create(work_entry=other, task_id=missing.id, work_match=rule)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkEntryMatch.objects.filter(work_entry_id=entry.id).update(task_id=missing.id)
