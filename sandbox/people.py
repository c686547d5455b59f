"""Users of the sandbox trackers (the same people appear in every tracker)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_USERNAMES = ("alice", "bob", "carol", "dave", "erin", "frank")
_SURNAMES = ("Anderson", "Brown", "Clark", "Davis", "Evans", "Fischer", "Garcia", "Huber", "Ito", "Jones")


@dataclass(frozen=True, slots=True)
class SandboxUser:
    index: int
    username: str
    full_name: str
    email: str
    #: Base UTC offset in hours of the user's zone (European daylight saving time is added on top).
    zone_hours: int


def sandbox_users(usernames: tuple[str, ...] | list[str] | None = None) -> tuple[SandboxUser, ...]:
    names = tuple(usernames or DEFAULT_USERNAMES)
    if not names:
        raise ValueError("the sandbox needs at least one user")
    return tuple(
        SandboxUser(
            index=index,
            username=name,
            full_name=f"{name.capitalize()} {_SURNAMES[index % len(_SURNAMES)]}",
            email=f"{name}@example.com",
            # Mostly Central European time (+0100/+0200); every sixth person works from London (+0000/+0100).
            zone_hours=0 if index % 6 == 5 else 1,
        )
        for index, name in enumerate(names)
    )
