"""Database rows for contract tests: a tracker whose API is a replay server."""

from __future__ import annotations

from typing import Any

from siisurit.models import Organization, Tracker
from tests.contracts.replay import ReplayServer
from tests.factories import make_organization, make_project, make_tracker


def replayed_tracker(
    server: ReplayServer, api_kind: str, location: str, *, organization: Organization | None = None, **fields: Any
) -> Tracker:
    """A tracker of a new project whose `api_location` is the recorded one and whose API is `server`'s `/api`."""
    return make_tracker(
        make_project(organization or make_organization()),
        name=f"{api_kind}-contract",
        api_kind=api_kind,
        api_location=location,
        api_base_url=f"{server.base_url}/api",
        **fields,
    )
