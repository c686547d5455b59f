-- report.task: every task of every task tracker, one flat row per task, with the hours of work matched to it.
select
    organization.code as organization_code,
    organization.name as organization_name,
    project.code as project_code,
    project.name as project_name,
    tracker.name as tracker_name,
    tracker.api_kind as tracker_api_kind,
    task.id as task_id,
    task.code as task_code,
    task.title as task_title,
    task.state as task_state,
    task.is_closed as task_is_closed,
    task.url as task_url,
    task.estimate_hours::numeric as task_estimate_in_hours,
    task.is_declared as task_is_declared,
    task.created_at as task_created_at,
    task.updated_at as task_updated_at,
    task.closed_at as task_closed_at,
    coalesce(work.work_in_hours, 0) as work_in_hours
from siisurit_task as task
join siisurit_tracker as tracker on tracker.id = task.tracker_id
join siisurit_project as project on project.id = tracker.project_id
join siisurit_organization as organization on organization.id = project.organization_id
left join (
    select work_entry_match.task_id, sum(entry.duration_seconds)::numeric / 3600 as work_in_hours
    from siisurit_workentrymatch as work_entry_match
    join siisurit_workentry as entry on entry.id = work_entry_match.work_entry_id
    group by work_entry_match.task_id
) as work on work.task_id = task.id
