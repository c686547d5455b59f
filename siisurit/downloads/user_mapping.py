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


def _members_sql(project_id: str) -> str:
    """The members of the organization of the project `project_id` (an SQL expression) as one JSON array of
    [e-mail, username, user id, is default], oldest first."""
    return f"""
        select coalesce(json_agg(json_build_array(member.email, member.username, member.id, profile.is_default)
                                 order by member.date_joined), '[]'::json)
        from siisurit_organizationprofile profile join siisurit_user member on member.id = profile.user_id
        where profile.organization_id = (select organization_id from siisurit_project where id = {project_id})
    """


#: The members of a tracker's organization, read with the tracker's row (`model_get_by_pk_with`); see `members_of`.
TRACKER_MEMBERS_SQL = _members_sql('"siisurit_tracker"."project_id"')
_PROJECT_MEMBERS_SQL = _members_sql("%s")

Member = tuple[str, str, UUID, bool]


def members_of(value: list[list[Any]]) -> list[Member]:
    """(e-mail, username, user id, is default) of each member, from the JSON array the members' SQL reads."""
    return [(email, username, UUID(user_id), is_default) for email, username, user_id, is_default in value]


def _members(*, project_id: UUID) -> list[Member]:
    """The members of the project's organization (plain SQL: through the ORM this query cost 0.7 ms of CPU, building
    it and whole user rows, a sizeable part of a download that finds nothing new). By project id, so that the
    tracker needs no project loaded."""
    with connection.cursor() as cursor:
        cursor.execute(_PROJECT_MEMBERS_SQL, [project_id])
        return members_of(cursor.fetchone()[0])


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
