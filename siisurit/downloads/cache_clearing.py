"""The download cache: remembered API responses in their own Redis database (never the broker's).

Keys are `siisurit:download:{tracker_id}:{anything}`. Clearing deletes them by SCAN pattern, never FLUSHDB, so
queued jobs and results (in the broker's database) and anything else in the cache database stay.
"""

from __future__ import annotations

import uuid

from siisurit.downloads.cache import KEY_PREFIX, download_cache_client
from siisurit.errors import PermanentError

_DELETE_BATCH = 500


def caches_clear(
    *,
    organization_code: str | None = None,
    project_code: str | None = None,
    tracker_id: str | None = None,
    dry_run: bool = False,
) -> dict:
    """Delete cached downloads (of all trackers, or of one organization, project or tracker); return counts.

    `dry_run` only counts the keys. A project code needs its organization code.
    """
    tracker_ids = _selected_tracker_ids(
        organization_code=organization_code, project_code=project_code, tracker_id=tracker_id
    )
    client = download_cache_client()
    patterns = (
        [f"{KEY_PREFIX}:*"]
        if tracker_ids is None
        else [f"{KEY_PREFIX}:{_escape_glob(selected)}:*" for selected in tracker_ids]
    )
    count = 0
    for pattern in patterns:
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=_DELETE_BATCH):
            count += 1
            if not dry_run:
                batch.append(key)
                if len(batch) >= _DELETE_BATCH:
                    client.unlink(*batch)
                    batch.clear()
        if batch:
            client.unlink(*batch)
    return {"keys": count, "trackers": "all" if tracker_ids is None else len(tracker_ids), "dry_run": dry_run}


def _selected_tracker_ids(
    *, organization_code: str | None, project_code: str | None, tracker_id: str | None
) -> list[str] | None:
    """Ids of the trackers to clear, or None for all of them."""
    from siisurit.models import Tracker
    from siisurit.selectors import organization_get, project_get

    if project_code and not organization_code:
        raise PermanentError("a project code needs its organization code")
    if not (organization_code or project_code or tracker_id):
        return None
    trackers = Tracker.objects.all()
    if organization_code:
        organization = organization_get(code=organization_code)
        trackers = trackers.filter(project__organization=organization)
        if project_code:
            trackers = trackers.filter(project=project_get(organization=organization, code=project_code))
    if tracker_id:
        try:
            uuid.UUID(tracker_id)
        except ValueError:
            raise PermanentError(f"tracker id {tracker_id!r} is not a UUID") from None
        trackers = trackers.filter(id=tracker_id)
        if not trackers.exists():
            raise PermanentError(f"tracker {tracker_id} does not exist (in the organization/project given)")
    return [str(selected) for selected in trackers.values_list("id", flat=True)]


def _escape_glob(text: str) -> str:
    return "".join(f"\\{character}" if character in "*?[]\\" else character for character in text)
