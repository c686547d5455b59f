"""Which Siisurit user a work entry's external username maps to, and why (for explanations).

Uses the download's own resolver (`siisurit.downloads.user_mapping`), so the explanation follows the same rules:
an explicit entry of the tracker's mapping, else an organization member with that username or e-mail (ignoring
case), else the organization's default user if the mapping's fallback is "default", else unmapped.
"""

from __future__ import annotations

from uuid import UUID

from siisurit.downloads.user_mapping import UserResolver, user_resolver_for_tracker
from siisurit.models import Tracker, User, WorkEntry


class UserMappingExplainer:
    """Explains user mappings, remembering resolvers per tracker and answers per tracker and external username."""

    def __init__(self) -> None:
        self._resolvers: dict[str, UserResolver] = {}
        self._known: dict[tuple[str, str], dict] = {}
        self._usernames: dict[UUID, str] = {}

    def explanation(self, entry: WorkEntry) -> dict:
        tracker = entry.tracker
        key = (str(tracker.id), entry.external_username)
        if key not in self._known:
            self._known[key] = self._resolved(tracker, entry.external_username)
        return {**self._known[key], "stored_user": entry.user.username if entry.user else None}

    def _resolver(self, tracker: Tracker) -> UserResolver:
        if str(tracker.id) not in self._resolvers:
            self._resolvers[str(tracker.id)] = user_resolver_for_tracker(tracker=tracker)
        return self._resolvers[str(tracker.id)]

    def _username(self, user_id: UUID) -> str:
        if user_id not in self._usernames:
            self._usernames[user_id] = User.objects.filter(id=user_id).values_list("username", flat=True).first() or ""
        return self._usernames[user_id]

    def _resolved(self, tracker: Tracker, external_username: str) -> dict:
        mapping = tracker.user_mapping
        resolver = self._resolver(tracker)
        name = external_username.strip().lower()
        result = {
            "user_mapping": mapping.name if mapping else None,
            "fallback": (mapping.fallback or None) if mapping else None,
            "external_username": external_username,
        }
        if name and (user_id := resolver.explicit.get(name)) is not None:
            username = self._username(user_id)
            detail = f"user mapping {mapping.name!r} maps {external_username!r} to {username!r}"
            return {**result, "resolution": "explicit", "user": username, "detail": detail}
        if name and (user_id := resolver.members.get(name)) is not None:
            username = self._username(user_id)
            detail = f"organization member {username!r} has this username or e-mail"
            return {**result, "resolution": "automatic", "user": username, "detail": detail}
        if resolver.default_user_id is not None:
            username = self._username(resolver.default_user_id)
            detail = f"no mapping or member matches; the fallback of {mapping.name!r} is the default user {username!r}"
            return {**result, "resolution": "fallback", "user": username, "detail": detail}
        if mapping and mapping.fallback:
            detail = "no mapping or member matches, and the organization has no default user for the fallback"
        elif mapping:
            detail = f"neither user mapping {mapping.name!r} nor an organization member matches {external_username!r}"
        else:
            detail = f"the tracker has no user mapping and no organization member matches {external_username!r}"
        return {**result, "resolution": "unmapped", "user": None, "detail": detail}
