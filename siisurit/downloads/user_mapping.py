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
from uuid import UUID

from siisurit.models import OrganizationProfile, Tracker, UserMapping, UserMappingEntry


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


def user_resolver_for_tracker(*, tracker: Tracker) -> UserResolver:
    """The resolver of the tracker's user mapping within the tracker's organization."""
    organization_id = tracker.project.organization_id
    resolver = UserResolver()
    profiles = OrganizationProfile.objects.filter(organization_id=organization_id).select_related("user")
    default_user_id = None
    for profile in profiles.order_by("user__date_joined"):
        user = profile.user
        for name in (user.email, user.username):
            if name:
                resolver.members.setdefault(name.strip().lower(), user.id)
        if profile.is_default:
            default_user_id = user.id
    mapping: UserMapping | None = tracker.user_mapping
    if mapping is not None:
        entries = UserMappingEntry.objects.filter(user_mapping=mapping).values_list("external_username", "user_id")
        resolver.explicit = {name.strip().lower(): user_id for name, user_id in entries}
        if mapping.fallback == UserMapping.Fallback.DEFAULT:
            resolver.default_user_id = default_user_id
    return resolver
