-- report.work: every work entry matched to a task, with the task, its project and organization, and the member.
-- Organization and project are those of the task's tracker.
select
    work.id as work_entry_id,
    organization.code as organization_code,
    organization.name as organization_name,
    project.code as project_code,
    project.name as project_name,
    task_tracker.name as tracker_name,
    task.id as task_id,
    task.code as task_code,
    task.title as task_title,
    task.state as task_state,
    task.is_closed as task_is_closed,
    task.url as task_url,
    task.estimate_hours::numeric as task_estimate_in_hours,
    work_tracker.name as work_tracker_name,
    work.external_id as work_external_id,
    work.external_username,
    member.username,
    coalesce(nullif(member.name, ''), member.username) as member_name,
    work.started_at,
    work.duration_seconds::numeric / 3600 as duration_in_hours,
    work.text as work_text,
    work.breadcrumb_trail,
    work_match.match_on as matched_rule_kind,
    work_match.priority as matched_rule_priority,
    work_entry_match.matched_at
from siisurit_workentry as work
join siisurit_workentrymatch as work_entry_match on work_entry_match.work_entry_id = work.id
join siisurit_task as task on task.id = work_entry_match.task_id
join siisurit_tracker as task_tracker on task_tracker.id = task.tracker_id
join siisurit_project as project on project.id = task_tracker.project_id
join siisurit_organization as organization on organization.id = project.organization_id
join siisurit_tracker as work_tracker on work_tracker.id = work.tracker_id
left join siisurit_user as member on member.id = work.user_id
left join siisurit_workmatch as work_match on work_match.id = work_entry_match.work_match_id
