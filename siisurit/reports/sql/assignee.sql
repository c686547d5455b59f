-- report.assignee: one row per task and assignee; tasks without assignees have no rows.
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
    assignee.external_username as assignee_external_username,
    member.username,
    coalesce(nullif(member.name, ''), member.username) as member_name
from siisurit_taskassignee as assignee
join siisurit_task as task on task.id = assignee.task_id
join siisurit_tracker as tracker on tracker.id = task.tracker_id
join siisurit_project as project on project.id = tracker.project_id
join siisurit_organization as organization on organization.id = project.organization_id
left join siisurit_user as member on member.id = assignee.user_id
