"""Which Siisurit user an external username or e-mail of a tracker stands for.

Order (reference "User mapping"): an explicit `external_usernames_to_username` entry of the tracker's mapping wins;
else automatic: the external username or e-mail equals the username or e-mail of a user with a profile in the
organization; else with `fallback: "default"` the organization's default member; else unmapped (None).
Comparisons ignore case. Organizations have few members, so everything is resolved in memory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import connection

from siisurit.models import Tracker, UserMapping, UserMappingEntry


@dataclass
class UserResolver:
    explicit: dict[str, UUID] = field(default_factory=dict)
    members: dict[str, UUID] = field(default_factory=dict)
    default_user_id: UUID | None = None

    def resolve(self, external_username: str, external_email: str = "") -> UUID | None:
        names = [name.strip().lower() for name in (external_username, external_email) if name and name.strip()]
        for table in (self.explicit, self.members):
            for name in names:
                user_id = table.get(name)
                if user_id is not None:
                    return user_id
        return self.default_user_id

    @property
    def fingerprint(self) -> str:
        """Changes whenever a mapping outcome may change (then cached downloads must be resolved again)."""
        content = json.dumps(
            [sorted((k, str(v)) for k, v in table.items()) for table in (self.explicit, self.members)]
            + [str(self.default_user_id)]
        )
        return hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()


_MEMBERS_QUERY = """
    select member.email, member.username, member.id, profile.is_default
    from siisurit_organizationprofile profile join siisurit_user member on member.id = profile.user_id
    where profile.organization_id = (select organization_id from siisurit_project where id = %s)
    order by member.date_joined
"""
#: The members of a tracker's organization as `_MEMBERS_QUERY` lists them, as one JSON array of
#: [e-mail, username, user id, is default], read with the tracker's row (`model_get_by_pk_with`).
TRACKER_MEMBERS_SQL = """
    select coalesce(json_agg(json_build_array(member.email, member.username, member.id, profile.is_default)
                             order by member.date_joined), '[]'::json)
    from siisurit_organizationprofile profile join siisurit_user member on member.id = profile.user_id
    where profile.organization_id = (select organization_id from siisurit_project
                                     where id = "siisurit_tracker"."project_id")
"""

Member = tuple[str, str, UUID, bool]


def _members(*, project_id: UUID) -> list[Member]:
    """(e-mail, username, user id, is default) of the members of the project's organization, oldest first.

    Plain SQL: every download builds a resolver (most map nothing new), and through the ORM this query cost 0.7 ms of
    CPU (building it, whole user rows), a fifteenth of a download that finds nothing new; now 0.1 ms. By project id,
    so that the tracker needs no project loaded.
    """
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERS_QUERY, [project_id])
        return cursor.fetchall()


def tracker_members(value: list[list[Any]]) -> list[Member]:
    """The members as `_members` gives them, from the JSON array `TRACKER_MEMBERS_SQL` reads."""
    return [(email, username, UUID(user_id), is_default) for email, username, user_id, is_default in value]


def user_resolver_for_tracker(*, tracker: Tracker, members: list[Member] | None = None) -> UserResolver:
    """The resolver of the tracker's user mapping within the tracker's organization (`members` if they were read
    with the tracker already, see `TRACKER_MEMBERS_SQL`)."""
    resolver = UserResolver()
    default_user_id = None
    if members is None:
        members = _members(project_id=tracker.project_id)
    for email, username, user_id, is_default in members:
        for name in (email, username):
            if name:
                resolver.members.setdefault(name.strip().lower(), user_id)
        if is_default:
            default_user_id = user_id
    mapping: UserMapping | None = tracker.user_mapping
    if mapping is not None:
        entries = UserMappingEntry.objects.filter(user_mapping=mapping).values_list("external_username", "user_id")
        resolver.explicit = {name.strip().lower(): user_id for name, user_id in entries}
        if mapping.fallback == UserMapping.Fallback.DEFAULT:
            resolver.default_user_id = default_user_id
    return resolver
