"""How a tracker's last download ended, kept on the tracker: the admin, `manage.py jobs` and reports read it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from siisurit.errors import SiisuritError
from siisurit.models import DownloadOutcome, Tracker

logger = logging.getLogger(__name__)


def download_error_text(error: BaseException) -> str:
    """What an operator may read about a failed download: domain errors say what to fix and never hold a secret;
    anything else is named by its type only (its text, a URL say, could), its traceback is in the worker's log."""
    if isinstance(error, SiisuritError):
        return str(error)
    return f"unexpected {type(error).__name__} (see the worker's log)"


def last_download_fields(*, items: int | None = None, error: BaseException | None = None) -> dict:
    """The tracker's fields telling how the download that just ended went: `items` after success, `error` after a
    failure. A successful download writes them with its own last update of the tracker (one statement)."""
    fields: dict = {"last_download_at": datetime.now(tz=UTC)}
    if error is None:
        fields.update(last_download_outcome=DownloadOutcome.SUCCEEDED, last_download_error="")
        fields["last_download_items"] = items
    else:
        fields.update(last_download_outcome=DownloadOutcome.FAILED, last_download_error=download_error_text(error))
    return fields


def tracker_last_download_record(*, tracker_id: str, error: BaseException) -> None:
    """Store on the tracker that its download failed with `error`."""
    try:
        Tracker.objects.filter(id=tracker_id).update(**last_download_fields(error=error))
    except Exception:  # the database itself may be what failed: the download's own error matters more
        logger.warning("could not record the outcome of the download of tracker %s", tracker_id, exc_info=True)
