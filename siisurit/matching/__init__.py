"""Matching work entries to tasks by the work match rules of a project's task trackers.

Semantics (the reference leaves these open; this is our decision):

- Work entries of a project's trackers are matched only by rules of trackers of the same project; a rule names its
  `source_work_trackers` within the project.
- All rules that list a work tracker as source are evaluated together, in this order: `priority` highest first,
  then as declared in the organization file: the task tracker's position among the project's trackers, then the
  rule's `position` among the tracker's work matches (then the tracker's name and the rule's id, which only
  separate rows made by hand).
  The first rule that applies wins; later rules are not tried. An entry no rule applies to stays unmatched
  (no `WorkEntryMatch`).
- Patterns are Python regular expressions applied with `re.search`: they may match anywhere unless anchored
  (`^…`, `…$`), and inline flags such as `(?i)` work as written. An empty pattern always matches.
- `pattern_to_task_code` takes the code from the group `task_code` (in exactly one of the two patterns) and applies
  only if the rule's tracker has a task with exactly that code (surrounding white space removed).
- `external_task_id_to_task_external_id` / `external_task_id_to_task_url` compare the entry's external task id
  (surrounding white space removed) exactly with the external id / URL of the rule's tracker's tasks; if several
  tasks share a URL, the oldest (smallest id) wins.
- A rule that cannot work (bad regular expression, no pattern, missing target task, `task_code` group missing or in
  both patterns) never applies; the configuration import rejects such rules, this only guards rows edited by hand.

Each matched entry has a `WorkEntryMatch` (a narrow table of its own) recording `task`, `work_match` (the rule that
won) and `matched_at` (when the entry got its current match; NULL after a download changed the entry, until it is
matched again). Rules whose patterns translate exactly to PostgreSQL's regular expressions are decided in SQL
(`sql_patterns`, `sql_decisions`), the others in Python; `explain_work_entry` explains results with the Python rule
code (`siisurit.matching.rules`), and tests check both agree.
"""
