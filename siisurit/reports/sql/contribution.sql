-- report.contribution: hours of matched work per member and task, only where they are more than zero.
-- Work of external users that are mapped to no member forms one row per task with an empty username.
select
    organization.code as organization_code,
    organization.name as organization_name,
    project.code as project_code,
    project.name as project_name,
    tracker.name as tracker_name,
    task.id as task_id,
    task.code as task_code,
    task.title as task_title,
    task.state as task_state,
    task.is_closed as task_is_closed,
    task.url as task_url,
    task.estimate_hours::numeric as task_estimate_in_hours,
    member.username,
    coalesce(nullif(member.name, ''), member.username) as member_name,
    contribution.work_in_hours,
    contribution.work_entry_count,
    contribution.first_started_at,
    contribution.last_started_at
from (
    select
        work_entry_match.task_id,
        entry.user_id,
        sum(entry.duration_seconds)::numeric / 3600 as work_in_hours,
        count(*) as work_entry_count,
        min(entry.started_at) as first_started_at,
        max(entry.started_at) as last_started_at
    from siisurit_workentrymatch as work_entry_match
    join siisurit_workentry as entry on entry.id = work_entry_match.work_entry_id
    group by work_entry_match.task_id, entry.user_id
    having sum(duration_seconds) > 0
) as contribution
join siisurit_task as task on task.id = contribution.task_id
join siisurit_tracker as tracker on tracker.id = task.tracker_id
join siisurit_project as project on project.id = tracker.project_id
join siisurit_organization as organization on organization.id = project.organization_id
left join siisurit_user as member on member.id = contribution.user_id
