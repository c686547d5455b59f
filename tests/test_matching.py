"""The matching engine: every rule kind, evaluation order, and writing only what changed."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from siisurit.errors import PermanentError
from siisurit.matching import engine
from siisurit.matching.service import project_match
from siisurit.models import ApiKind, MatchOn, Project, Tracker, WorkEntry, WorkEntryMatch
from siisurit.organization_config import organization_update
from tests.factories import (
    make_project,
    make_task,
    make_tracker,
    make_work_entry,
    make_work_match,
    stored_match,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return make_project()


@pytest.fixture
def kimai(project):
    return make_tracker(project, name="kimai", api_kind=ApiKind.KIMAI)


@pytest.fixture
def github(project):
    return make_tracker(project, name="github", api_kind=ApiKind.GITHUB)


def _match(project) -> dict:
    return project_match(project_id=str(project.id))


def _result(entry: WorkEntry) -> tuple:
    return stored_match(entry)[:2]


def _matched_at(entry: WorkEntry):
    return stored_match(entry)[2]


def _all_matched_at() -> dict:
    return {match.work_entry_id: match.matched_at for match in WorkEntryMatch.objects.all()}


def test_always_to_task_matches_every_entry(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    rule = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], target_task=various)
    entry = make_work_entry(kimai, text="anything")

    summary = _match(project)

    assert _result(entry) == (various.id, rule.id)
    assert _matched_at(entry) is not None
    assert summary["entries"] == summary["matched"] == summary["changed"] == 1
    assert summary["unmatched"] == 0
    assert summary["matched_by_kind"] == {"always_to_task": 1}


def test_external_task_id_to_task_external_id(project, kimai, github):
    task = make_task(github, code="#7", external_id="4711")
    rule = make_work_match(github, MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID, [kimai])
    matching = make_work_entry(kimai, external_task_id=" 4711 ")
    unknown = make_work_entry(kimai, external_task_id="4712")
    without = make_work_entry(kimai, external_task_id="")

    _match(project)

    assert _result(matching) == (task.id, rule.id)
    assert _result(unknown) == (None, None)
    assert _result(without) == (None, None)


def test_external_task_id_to_task_url(project, kimai, github):
    url = "https://github.com/example/app/issues/7"
    task = make_task(github, code="#7", url=url)
    rule = make_work_match(github, MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL, [kimai])
    matching = make_work_entry(kimai, external_task_id=url)
    other = make_work_entry(kimai, external_task_id=url + "/other")

    _match(project)

    assert _result(matching) == (task.id, rule.id)
    assert _result(other) == (None, None)


def test_external_ids_are_looked_up_in_the_rules_tracker_only(project, kimai, github):
    jira = make_tracker(project, name="jira", api_kind=ApiKind.JIRA)
    make_task(jira, code="ABC-1", external_id="4711", url="https://jira/ABC-1")
    make_work_match(github, MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID, [kimai])
    make_work_match(github, MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL, [kimai])
    by_id = make_work_entry(kimai, external_task_id="4711")
    by_url = make_work_entry(kimai, external_task_id="https://jira/ABC-1")

    _match(project)

    assert _result(by_id) == (None, None)
    assert _result(by_url) == (None, None)


def test_pattern_to_task_with_text_pattern(project, kimai, github):
    meetings = make_task(github, code="meetings", is_declared=True)
    rule = make_work_match(github, MatchOn.PATTERN_TO_TASK, [kimai], target_task=meetings, text_pattern="meeting")
    matching = make_work_entry(kimai, text="weekly meeting with customer")
    other = make_work_entry(kimai, text="Weekly Meeting")  # case-sensitive without (?i)

    _match(project)

    assert _result(matching) == (meetings.id, rule.id)
    assert _result(other) == (None, None)


def test_pattern_to_task_with_inline_ignore_case_flag(project, kimai, github):
    meetings = make_task(github, code="meetings", is_declared=True)
    rule = make_work_match(github, MatchOn.PATTERN_TO_TASK, [kimai], target_task=meetings, text_pattern="(?i)meeting")
    entry = make_work_entry(kimai, text="Weekly MEETING")

    _match(project)

    assert _result(entry) == (meetings.id, rule.id)


def test_pattern_to_task_with_breadcrumb_trail_pattern(project, kimai, github):
    support = make_task(github, code="support", is_declared=True)
    rule = make_work_match(
        github, MatchOn.PATTERN_TO_TASK, [kimai], target_task=support, breadcrumb_trail_pattern=r"/ Support$"
    )
    matching = make_work_entry(kimai, text="helped someone", breadcrumb_trail="Customer / App / Support")
    other = make_work_entry(kimai, text="Support", breadcrumb_trail="Customer / App / Development")

    _match(project)

    assert _result(matching) == (support.id, rule.id)
    assert _result(other) == (None, None)


def test_pattern_to_task_needs_both_patterns_to_match(project, kimai, github):
    support = make_task(github, code="support", is_declared=True)
    rule = make_work_match(
        github,
        MatchOn.PATTERN_TO_TASK,
        [kimai],
        target_task=support,
        text_pattern="(?i)hotline",
        breadcrumb_trail_pattern="Support",
    )
    both = make_work_entry(kimai, text="Hotline duty", breadcrumb_trail="ACME / Support")
    text_only = make_work_entry(kimai, text="Hotline duty", breadcrumb_trail="ACME / Development")
    breadcrumb_only = make_work_entry(kimai, text="fixed bug", breadcrumb_trail="ACME / Support")

    _match(project)

    assert _result(both) == (support.id, rule.id)
    assert _result(text_only) == (None, None)
    assert _result(breadcrumb_only) == (None, None)


def test_pattern_to_task_code_in_text_uses_search_semantics(project, kimai, github):
    task = make_task(github, code="#12")
    anchored = make_work_match(github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], text_pattern=r"^(?P<task_code>#\d+).*")
    at_start = make_work_entry(kimai, text="#12 fixed the login")
    in_the_middle = make_work_entry(kimai, text="fixed #12")

    _match(project)

    assert _result(at_start) == (task.id, anchored.id)
    assert _result(in_the_middle) == (None, None)

    anchored.text_pattern = r"(?P<task_code>#\d+)"
    anchored.save()
    _match(project)

    assert _result(in_the_middle) == (task.id, anchored.id)


def test_pattern_to_task_code_in_breadcrumb_trail(project, kimai):
    jira = make_tracker(project, name="jira", api_kind=ApiKind.JIRA)
    task = make_task(jira, code="ABC-5")
    rule = make_work_match(
        jira, MatchOn.PATTERN_TO_TASK_CODE, [kimai], breadcrumb_trail_pattern=r"/ (?P<task_code>[A-Z]+-\d+)$"
    )
    entry = make_work_entry(kimai, text="ABC-6 would not count", breadcrumb_trail="Customer / App / ABC-5")

    _match(project)

    assert _result(entry) == (task.id, rule.id)


def test_pattern_to_task_code_with_both_patterns(project, kimai, github):
    task = make_task(github, code="#3")
    rule = make_work_match(
        github,
        MatchOn.PATTERN_TO_TASK_CODE,
        [kimai],
        text_pattern=r"(?P<task_code>#\d+)",
        breadcrumb_trail_pattern="(?i)^acme /",
    )
    acme = make_work_entry(kimai, text="#3 done", breadcrumb_trail="ACME / App")
    other_customer = make_work_entry(kimai, text="#3 done", breadcrumb_trail="Other / App")

    _match(project)

    assert _result(acme) == (task.id, rule.id)
    assert _result(other_customer) == (None, None)


def test_code_without_task_falls_through_to_the_next_rule(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    make_task(github, code="#1")
    make_work_match(github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], priority=10, text_pattern=r"(?P<task_code>#\d+)")
    fallback = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, target_task=various)
    entry = make_work_entry(kimai, text="#999 not a task of github")

    _match(project)

    assert _result(entry) == (various.id, fallback.id)


def test_code_is_looked_up_in_the_rules_tracker_only(project, kimai, github):
    gitlab = make_tracker(project, name="gitlab", api_kind=ApiKind.GITLAB)
    make_task(gitlab, code="#1")
    make_work_match(github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], text_pattern=r"(?P<task_code>#\d+)")
    entry = make_work_entry(kimai, text="#1")

    _match(project)

    assert _result(entry) == (None, None)


def test_higher_priority_wins_regardless_of_declaration_order(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    task = make_task(github, code="#1")
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, position=0, target_task=various)
    by_code = make_work_match(
        github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], priority=100, position=1, text_pattern=r"(?P<task_code>#\d+)"
    )
    entry = make_work_entry(kimai, text="#1")

    _match(project)

    assert _result(entry) == (task.id, by_code.id)


def test_equal_priority_keeps_declaration_order(project, kimai, github):
    first_task = make_task(github, code="first", is_declared=True)
    second_task = make_task(github, code="second", is_declared=True)
    second = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=5, position=1, target_task=second_task)
    first = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=5, position=0, target_task=first_task)
    entry = make_work_entry(kimai)

    _match(project)
    assert _result(entry) == (first_task.id, first.id)

    first.position, second.position = 1, 0
    first.save()
    second.save()
    _match(project)
    assert _result(entry) == (second_task.id, second.id)


def test_first_applicable_rule_wins_and_later_rules_are_not_tried(project, kimai, github):
    meetings = make_task(github, code="meetings", is_declared=True)
    various = make_task(github, code="various", is_declared=True)
    first = make_work_match(
        github, MatchOn.PATTERN_TO_TASK, [kimai], priority=3, target_task=meetings, text_pattern="meeting"
    )
    make_work_match(github, MatchOn.PATTERN_TO_TASK, [kimai], priority=2, target_task=various, text_pattern="weekly")
    entry = make_work_entry(kimai, text="weekly meeting")

    summary = _match(project)

    assert _result(entry) == (meetings.id, first.id)
    assert summary["matched_by_kind"] == {"pattern_to_task": 1}


def test_rules_of_several_task_trackers_are_evaluated_together(project, kimai, github):
    jira = make_tracker(project, name="jira", api_kind=ApiKind.JIRA, position=1)
    github.position = 2
    github.save()
    github_task = make_task(github, code="general", is_declared=True)
    jira_task = make_task(jira, code="general", is_declared=True)
    # Equal priority across trackers: the tracker declared first decides (not the name: "github" < "jira").
    jira_rule = make_work_match(jira, MatchOn.ALWAYS_TO_TASK, [kimai], priority=5, position=3, target_task=jira_task)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=5, position=0, target_task=github_task)
    entry = make_work_entry(kimai)

    _match(project)
    assert _result(entry) == (jira_task.id, jira_rule.id)

    github_rule = make_work_match(
        github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=6, position=1, target_task=github_task
    )
    _match(project)
    assert _result(entry) == (github_task.id, github_rule.id)


_TWO_TASK_TRACKERS_YAML = """organization:
  name: Order LLC
  code: order
  projects:
    - code: app
      name: App
      trackers:
        - name: time
          api_kind: kimai
          api_location: "http://127.0.0.1:9/kimai"
          api_token: not-secret
        - name: zeta-tasks
          api_kind: github
          api_location: "git@github.com:someone/zeta.git"
          api_token: not-secret
          tasks: [{title: General, code: general, estimates: 0}]
          work_matches: [{match_on: always_to_task, source_work_trackers: time, target_task: general, priority: 5}]
        - name: alpha-tasks
          api_kind: github
          api_location: "git@github.com:someone/alpha.git"
          api_token: not-secret
          tasks: [{title: General, code: general, estimates: 0}]
          work_matches: [{match_on: always_to_task, source_work_trackers: time, target_task: general, priority: 5}]
"""


def test_equal_priorities_of_different_trackers_follow_the_order_of_the_organization_file(tmp_path):
    path = tmp_path / "organization.yaml"
    path.write_text(_TWO_TASK_TRACKERS_YAML, encoding="utf-8")
    organization_update(path=path)
    project = Project.objects.get(organization__code="order", code="app")
    entry = make_work_entry(Tracker.objects.get(project=project, name="time"))

    _match(project)

    task = WorkEntryMatch.objects.select_related("task__tracker").get(work_entry=entry).task
    assert (task.tracker.name, task.code) == ("zeta-tasks", "general")

    # Declared the other way round, the other tracker's rule comes first.
    head, zeta_line, rest = _TWO_TASK_TRACKERS_YAML.partition("        - name: zeta-tasks\n")
    zeta, alpha_line, alpha = rest.partition("        - name: alpha-tasks\n")
    path.write_text(head + alpha_line + alpha + zeta_line + zeta, encoding="utf-8")
    organization_update(path=path)
    _match(project)

    assert WorkEntryMatch.objects.select_related("task__tracker").get(work_entry=entry).task.tracker.name == (
        "alpha-tasks"
    )


def test_rules_apply_only_to_their_source_work_trackers(project, kimai, github):
    clockodo = make_tracker(project, name="clockodo", api_kind=ApiKind.CLOCKODO)
    various = make_task(github, code="various", is_declared=True)
    rule = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], target_task=various)
    listed = make_work_entry(kimai)
    not_listed = make_work_entry(clockodo)

    summary = _match(project)

    assert _result(listed) == (various.id, rule.id)
    assert _result(not_listed) == (None, None)
    assert (summary["entries"], summary["matched"], summary["unmatched"]) == (2, 1, 1)


def test_rules_never_match_entries_of_another_project(project, kimai, github):
    other_project = make_project(project.organization)
    other_kimai = make_tracker(other_project, name="kimai", api_kind=ApiKind.KIMAI)
    various = make_task(github, code="various", is_declared=True)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai, other_kimai], target_task=various)
    other_entry = make_work_entry(other_kimai)

    _match(project)
    _match(other_project)

    assert _result(other_entry) == (None, None)


def test_entries_matching_nothing_stay_unmatched(project, kimai, github):
    make_task(github, code="#1")
    make_work_match(github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], text_pattern=r"^(?P<task_code>#\d+)")
    entry = make_work_entry(kimai, text="no code here")

    summary = _match(project)

    assert _result(entry) == (None, None)
    assert _matched_at(entry) is None
    assert (summary["matched"], summary["unmatched"], summary["changed"]) == (0, 1, 0)


def test_invalid_rules_never_apply(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    make_work_match(github, MatchOn.PATTERN_TO_TASK, [kimai], priority=9, target_task=various, text_pattern="(")
    make_work_match(github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], priority=8, text_pattern="no group")
    make_work_match(github, MatchOn.PATTERN_TO_TASK, [kimai], priority=7, target_task=various)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=6)
    entry = make_work_entry(kimai, text="no group")

    summary = _match(project)

    assert _result(entry) == (None, None)
    assert (summary["rules"], summary["invalid_rules"]) == (4, 4)


def test_rematch_after_rule_change_updates_only_changed_entries(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    for number in range(1, 6):
        make_task(github, code=f"#{number}")
    make_work_match(github, MatchOn.PATTERN_TO_TASK_CODE, [kimai], priority=10, text_pattern=r"^(?P<task_code>#\d+)")
    fallback = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, target_task=various)
    coded = [make_work_entry(kimai, text=f"#{number % 5 + 1} work") for number in range(20)]
    uncoded = [make_work_entry(kimai, text=f"meeting {number}") for number in range(7)]
    unrelated = [make_work_entry(kimai, text="#99 unknown") for _ in range(3)]

    first = _match(project)
    assert (first["entries"], first["matched"], first["changed"]) == (30, 30, 30)
    matched_at = _all_matched_at()

    again = _match(project)
    assert (again["matched"], again["changed"]) == (30, 0)
    assert _all_matched_at() == matched_at

    # A new rule catching the meetings changes exactly those 7 entries.
    meetings = make_task(github, code="meetings", is_declared=True)
    make_work_match(github, MatchOn.PATTERN_TO_TASK, [kimai], priority=5, target_task=meetings, text_pattern="meeting")
    after_change = _match(project)
    assert (after_change["matched"], after_change["changed"]) == (30, 7)
    assert {_result(entry)[0] for entry in uncoded} == {meetings.id}
    uncoded_ids = {entry.id for entry in uncoded}
    assert {entry_id: at for entry_id, at in _all_matched_at().items() if entry_id not in uncoded_ids} == {
        entry_id: at for entry_id, at in matched_at.items() if entry_id not in uncoded_ids
    }

    # Removing the fallback deletes its matches with it (the 3 entries with unknown codes) and nothing else; the
    # re-match decides those 3 again and has nothing else to change.
    before_removal = _all_matched_at()
    fallback.delete()
    assert all(_result(entry) == (None, None) for entry in unrelated)
    after_removal = _match(project)
    assert (after_removal["matched"], after_removal["unmatched"], after_removal["changed"]) == (27, 3, 0)
    unrelated_ids = {entry.id for entry in unrelated}
    assert _all_matched_at() == {key: at for key, at in before_removal.items() if key not in unrelated_ids}
    assert all(_result(entry) == (None, None) for entry in unrelated)
    assert all(_result(entry)[0] is not None for entry in coded)


def test_rematch_changes_the_recorded_rule_when_only_the_rule_differs(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    old = make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, target_task=various)
    entry = make_work_entry(kimai, text="something")
    _match(project)

    new = make_work_match(
        github, MatchOn.PATTERN_TO_TASK, [kimai], priority=2, target_task=various, text_pattern="some"
    )
    summary = _match(project)

    assert summary["changed"] == 1
    assert _result(entry) == (various.id, new.id)
    assert old.id != new.id


def test_rematch_stamps_entries_a_download_changed_even_if_their_match_stays(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, target_task=various)
    changed, untouched = make_work_entry(kimai, text="before"), make_work_entry(kimai, text="other")
    _match(project)
    untouched_matched_at = _matched_at(untouched)
    # What a download does to an entry whose content changed upstream (siisurit.downloads.upsert).
    WorkEntry.objects.filter(id=changed.id).update(text="after")
    WorkEntryMatch.objects.filter(work_entry_id=changed.id).update(matched_at=None)

    summary = _match(project)

    assert (_result(changed)[0], _matched_at(changed) is not None) == (various.id, True)
    assert _matched_at(untouched) == untouched_matched_at
    assert (summary["matched"], summary["changed"]) == (2, 0)


@pytest.mark.parametrize("spilled", [False, True])
def test_rematch_decides_entries_downloaded_since_and_leaves_the_others(project, kimai, github, spilled, monkeypatch):
    if spilled:  # the pending ids pass through a temporary file, as for a tracker with millions of them
        monkeypatch.setattr(engine, "PENDING_IN_MEMORY", 1)
    various = make_task(github, code="various", is_declared=True)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], priority=1, target_task=various)
    earlier = [make_work_entry(kimai, text=f"earlier {number}") for number in range(4)]
    _match(project)
    matched_at = _all_matched_at()
    later = [make_work_entry(kimai, text=f"later {number}") for number in range(2)]

    summary = _match(project)

    assert (summary["entries"], summary["matched"], summary["changed"]) == (6, 6, 2)
    assert {entry.id: _matched_at(entry) for entry in earlier} == matched_at
    assert all(_result(entry)[0] == various.id for entry in later)


def test_progress_reports_entries(project, kimai, github):
    various = make_task(github, code="various", is_declared=True)
    make_work_match(github, MatchOn.ALWAYS_TO_TASK, [kimai], target_task=various)
    for _ in range(3):
        make_work_entry(kimai)
    reports = []

    project_match(project_id=str(project.id), progress=lambda current, total, what: reports.append((current, total)))

    assert reports[0] == (0, 3)
    assert reports[-1] == (3, 3)


def test_unknown_project_is_a_permanent_error():
    with pytest.raises(PermanentError, match="does not exist"):
        project_match(project_id="0190f5b4-0000-7000-8000-000000000000")
    with pytest.raises(PermanentError, match="does not exist"):
        project_match(project_id="not-a-uuid")


def test_the_migration_numbers_trackers_of_older_imports_in_creation_order(project, kimai, github):
    numbering = importlib.import_module("siisurit.migrations.0005_tracker_position").NUMBER_EXISTING_TRACKERS
    jira = make_tracker(project, name="jira", api_kind=ApiKind.JIRA)
    other = make_tracker(make_project(), name="other")

    with connection.cursor() as cursor:
        cursor.execute(numbering)

    positions = dict(Tracker.objects.values_list("name", "position"))
    assert positions == {"kimai": 0, "github": 1, "jira": 2, "other": 0}
    assert kimai.id < github.id < jira.id
    assert other.project_id != project.id
