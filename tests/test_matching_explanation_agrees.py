"""Property: for every entry of a generated project, the explanation agrees with the engine's actual match.

The project is generated from a seeded random generator: several task and work trackers, rules of every kind with
colliding priorities, text and breadcrumb patterns, inline flags, codes without tasks, and thousands of entries.
An independent, deliberately naive oracle re-derives each match from the reference's wording, so that a bug shared by
engine and explanation would still show.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from siisurit.matching import engine
from siisurit.matching.explanation import WorkEntryExplainer, explained_work_entries
from siisurit.matching.service import project_match
from siisurit.models import ApiKind, MatchOn, Task, WorkEntry, WorkMatch
from tests.factories import make_project, make_task, make_tracker, make_work_match, stored_match

pytestmark = pytest.mark.django_db

_WORDS = ["fixed", "review", "Meeting", "meeting", "support", "deploy", "docs", "call", "hotline"]


def _generated_project(seed: int, entry_count: int):
    rng = random.Random(seed)
    project = make_project()
    kimai = make_tracker(project, name="kimai", api_kind=ApiKind.KIMAI)
    clockodo = make_tracker(project, name="clockodo", api_kind=ApiKind.CLOCKODO)
    lonely = make_tracker(project, name="lonely", api_kind=ApiKind.KIMAI)  # no rule lists it
    github = make_tracker(project, name="github", api_kind=ApiKind.GITHUB)
    jira = make_tracker(project, name="jira", api_kind=ApiKind.JIRA)
    github_base = "https://github.com/example/app/issues/"
    for number in range(1, 61):
        make_task(github, code=f"#{number}", external_id=f"g{number}", url=f"{github_base}{number}")
    for number in range(1, 41):
        make_task(jira, code=f"ABC-{number}", external_id=f"j{number}", url=f"https://jira.example.com/ABC-{number}")
    declared = {
        (tracker.name, code): make_task(tracker, code=code, is_declared=True)
        for tracker in (github, jira)
        for code in ("various", "meetings", "support")
    }

    def sources():
        return rng.choice([[kimai], [clockodo], [kimai, clockodo]])

    def priority():
        return rng.choice([1, 5, 5, 10, 10, 50])

    rule_makers = [
        lambda tracker: {"match_on": MatchOn.PATTERN_TO_TASK_CODE, "text_pattern": r"^(?P<task_code>#\d+)"},
        lambda tracker: {"match_on": MatchOn.PATTERN_TO_TASK_CODE, "text_pattern": r"(?P<task_code>#\d+)"},
        lambda tracker: {"match_on": MatchOn.PATTERN_TO_TASK_CODE, "text_pattern": r"(?i)(?P<task_code>abc-\d+)"},
        lambda tracker: {
            "match_on": MatchOn.PATTERN_TO_TASK_CODE,
            "breadcrumb_trail_pattern": r"/ (?P<task_code>[A-Z]+-\d+)$",
        },
        lambda tracker: {
            "match_on": MatchOn.PATTERN_TO_TASK_CODE,
            "text_pattern": r"(?P<task_code>#\d+)",
            "breadcrumb_trail_pattern": "^ACME",
        },
        lambda tracker: {"match_on": MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID},
        lambda tracker: {"match_on": MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL},
        lambda tracker: {
            "match_on": MatchOn.PATTERN_TO_TASK,
            "text_pattern": "(?i)meeting",
            "target_task": declared[(tracker.name, "meetings")],
        },
        lambda tracker: {
            "match_on": MatchOn.PATTERN_TO_TASK,
            "breadcrumb_trail_pattern": "Support$",
            "text_pattern": rng.choice(["", "hotline"]),
            "target_task": declared[(tracker.name, "support")],
        },
        lambda tracker: {"match_on": MatchOn.PATTERN_TO_TASK, "text_pattern": "(unclosed", "target_task": None},
        lambda tracker: {"match_on": MatchOn.ALWAYS_TO_TASK, "target_task": declared[(tracker.name, "various")]},
    ]
    for tracker in (github, jira):
        for position, maker in enumerate(rng.sample(rule_makers, k=7)):
            make_work_match(
                tracker, source_work_trackers=sources(), priority=priority(), position=position, **maker(tracker)
            )

    start = datetime(2024, 1, 1, tzinfo=UTC)
    entries = []
    for number in range(entry_count):
        code = rng.choice([f"#{rng.randint(1, 80)}", f"ABC-{rng.randint(1, 50)}", f"abc-{rng.randint(1, 50)}", ""])
        word = rng.choice(_WORDS)
        text = rng.choice([f"{code} {word}", f"{word} {code}", word, f"{word}\n{code}", ""]).strip()
        breadcrumb = rng.choice(["ACME / App / Support", f"ACME / App / {code or 'Dev'}", "Other / App / Dev", ""])
        external_task_id = rng.choice(
            ["", "", f"g{rng.randint(1, 80)}", f"j{rng.randint(1, 50)}", f"{github_base}{rng.randint(1, 80)}"]
        )
        entries.append(
            WorkEntry(
                tracker=rng.choice([kimai, kimai, clockodo, lonely]),
                external_id=str(number),
                started_at=start + timedelta(minutes=number),
                text=text,
                breadcrumb_trail=breadcrumb,
                external_task_id=external_task_id,
            )
        )
    WorkEntry.objects.bulk_create(entries, batch_size=1000)
    return project


def _oracle_matches(project) -> dict[str, tuple[str | None, str | None]]:
    """Matches derived naively from the reference: rules by priority, tracker name, position; first one applies."""
    tasks = list(Task.objects.filter(tracker__project=project))
    rules = sorted(
        WorkMatch.objects.filter(tracker__project=project)
        .select_related("tracker")
        .prefetch_related("source_work_trackers"),
        key=lambda rule: (-rule.priority, rule.tracker.name, rule.position, str(rule.id)),
    )

    def task_where(rule, **field):
        ((name, value),) = field.items()
        found = sorted(
            (task for task in tasks if task.tracker_id == rule.tracker_id and getattr(task, name) == value),
            key=lambda task: str(task.id),
        )
        return found[0] if found else None

    def applies(rule, entry):
        def search(pattern, value):
            try:
                return re.search(pattern, value) if pattern else True
            except re.error:
                return None

        text_match, breadcrumb_match = (
            search(rule.text_pattern, entry.text),
            search(rule.breadcrumb_trail_pattern, entry.breadcrumb_trail),
        )
        if rule.match_on == MatchOn.ALWAYS_TO_TASK:
            return rule.target_task
        if rule.match_on == MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID:
            return task_where(rule, external_id=entry.external_task_id) if entry.external_task_id else None
        if rule.match_on == MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL:
            return task_where(rule, url=entry.external_task_id) if entry.external_task_id else None
        if not (text_match and breadcrumb_match) or not (rule.text_pattern or rule.breadcrumb_trail_pattern):
            return None
        if rule.match_on == MatchOn.PATTERN_TO_TASK:
            return rule.target_task
        code_match = text_match if "task_code" in rule.text_pattern else breadcrumb_match
        return task_where(rule, code=code_match.group("task_code"))

    result = {}
    for entry in WorkEntry.objects.filter(tracker__project=project):
        result[str(entry.id)] = (None, None)
        for rule in rules:
            if entry.tracker_id in {source.id for source in rule.source_work_trackers.all()}:
                task = applies(rule, entry)
                if task is not None:
                    result[str(entry.id)] = (str(task.id), str(rule.id))
                    break
    return result


@pytest.mark.parametrize(
    ("seed", "entry_count", "decided_apart"), [(1, 3000, False), (2, 600, False), (3, 600, False), (1, 3000, True)]
)
def test_explanation_agrees_with_the_actual_match_for_every_entry(seed, entry_count, decided_apart, monkeypatch):
    if decided_apart:  # as for large projects: each tracker's rules decided by a (parallel) statement of their own
        monkeypatch.setattr(engine, "PARALLEL_DECISIONS_FROM", 0)
    project = _generated_project(seed, entry_count)

    summary = project_match(project_id=str(project.id))

    assert summary["entries"] == entry_count
    assert 0 < summary["matched"] < entry_count  # the generator produces both
    explainer = WorkEntryExplainer()
    oracle = _oracle_matches(project)
    kinds_seen = set()
    for entry in explained_work_entries().filter(tracker__project=project).iterator(chunk_size=500):
        explanation = explainer.explanation(entry)
        task_id, work_match_id, _ = stored_match(entry)
        actual = (str(task_id) if task_id else None, str(work_match_id) if work_match_id else None)
        explained = ((explanation["match"]["task"] or {}).get("id"), explanation["match"]["work_match"])
        assert explained == actual, explanation
        assert explanation["stored_match"]["agrees"], explanation
        assert oracle[str(entry.id)] == actual, explanation
        matched_rules = [rule for rule in explanation["work_matches"] if rule["outcome"] == "matched"]
        assert len(matched_rules) == (1 if actual[0] else 0)
        kinds_seen.update(rule["match_on"] for rule in matched_rules)
    assert len(kinds_seen) >= 3
