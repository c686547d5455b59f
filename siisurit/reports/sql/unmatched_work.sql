-- report.unmatched_work: every work entry that no work match assigned to a task.
-- Organization and project are those of the work entry's (time) tracker.
select
    work.id as work_entry_id,
    organization.code as organization_code,
    organization.name as organization_name,
    project.code as project_code,
    project.name as project_name,
    work_tracker.name as work_tracker_name,
    work.external_id as work_external_id,
    work.external_username,
    member.username,
    coalesce(nullif(member.name, ''), member.username) as member_name,
    work.started_at,
    work.duration_seconds::numeric / 3600 as duration_in_hours,
    work.text as work_text,
    work.breadcrumb_trail,
    work.external_task_id
from siisurit_workentry as work
join siisurit_tracker as work_tracker on work_tracker.id = work.tracker_id
join siisurit_project as project on project.id = work_tracker.project_id
join siisurit_organization as organization on organization.id = project.organization_id
left join siisurit_user as member on member.id = work.user_id
where not exists (select from siisurit_workentrymatch as work_entry_match where work_entry_match.work_entry_id = work.id)
