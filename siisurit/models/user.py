"""Users: Django's user with one combined `name` field instead of first/last name."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from siisurit.ids import new_id


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    name = models.CharField("full name", max_length=200, blank=True)
    first_name = None
    last_name = None

    def get_full_name(self) -> str:
        return self.name or self.username

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.username

    class Meta:
        db_table = "siisurit_user"
