"""What a job is about, by codes and names: for Flower, `manage.py jobs` and the waiting commands."""

from __future__ import annotations

import logging
import uuid
from typing import Any

logger = logging.getLogger(__name__)


def job_subject_row(kwargs: dict[str, Any]) -> Any:
    """The tracker or project a job's arguments name (with its project and organization loaded), or None."""
    from siisurit.models import Project, Tracker

    if tracker_id := kwargs.get("tracker_id"):
        return Tracker.objects.filter(id=tracker_id).select_related("project__organization").first()
    if project_id := kwargs.get("project_id"):
        return Project.objects.filter(id=project_id).select_related("organization").first()
    return None


_PROJECT_CODE_QUERIES = {
    "tracker_id": """
        select o.code || '/' || p.code from siisurit_tracker t
        join siisurit_project p on p.id = t.project_id join siisurit_organization o on o.id = p.organization_id
        where t.id = %s
    """,
    "project_id": """
        select o.code || '/' || p.code from siisurit_project p
        join siisurit_organization o on o.id = p.organization_id
        where p.id = %s
    """,
}


def job_project_code_query(kwargs: dict[str, Any]) -> tuple[str, list[uuid.UUID]] | None:
    """The query of `org/project` of the tracker or project a job's arguments name (None if they name neither).

    Every job's log lines carry it (`job_execute`), so it is one plain query by primary key, read with the job's lock
    (siisurit/jobs/lock.py) in the same round trip: through the ORM it cost about 1 ms of CPU (building the query,
    loading the whole tracker row with project and organization, decrypting its token), as a query of its own
    through Django's cursor 0.6 ms, a sixteenth of the CPU of a download that finds nothing new.
    """
    for key, query in _PROJECT_CODE_QUERIES.items():
        if object_id := kwargs.get(key):
            return query, [uuid.UUID(str(object_id))]
    return None


def job_project_code(kwargs: dict[str, Any]) -> str | None:
    """`org/project` of the tracker or project a job's arguments name; None if they name neither or it is gone."""
    from django.db import connection

    if (query := job_project_code_query(kwargs)) is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(*query)
        row = cursor.fetchone()
    return row[0] if row else None


def job_subject(kwargs: dict[str, Any]) -> tuple[str, str]:
    """(`tracker`, `org/project/tracker`), (`project`, `org/project`) or (`organization`, `org[/project]`) for
    a job's arguments; ("", "") for jobs about everything. An id that no longer exists is shown as the id."""
    for key in ("tracker", "project"):
        if object_id := kwargs.get(f"{key}_id"):
            return key, str(job_subject_row(kwargs) or object_id)
    codes = [kwargs[key] for key in ("organization_code", "project_code") if kwargs.get(key)]
    return ("organization", "/".join(codes)) if codes else ("", "")


def job_kwargs_repr(kwargs: dict[str, Any]) -> str:
    """The arguments as Flower shows them: the subject by codes first, then the ids (never a secret: jobs get ids)."""
    try:
        key, label = job_subject(kwargs)
    except Exception:  # the database may be away: the job is sent all the same, with its ids
        logger.warning("could not name the subject of a job with %s", kwargs, exc_info=True)
        key, label = "", ""
    return repr({key: label, **kwargs} if key else kwargs)
