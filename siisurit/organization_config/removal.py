"""Removing an organization and everything that belongs to it (users stay)."""

from __future__ import annotations

from collections import Counter

from django.db import router, transaction
from django.db.models.deletion import Collector

from siisurit.models import Organization
from siisurit.selectors import organization_get


def _kind(model: type) -> str | None:
    """The plural name of a model; None for many-to-many link tables, which are no entity of their own."""
    if model._meta.auto_created:
        return None
    return str(model._meta.verbose_name_plural)


def organization_removal_counts(*, code: str) -> dict[str, int]:
    """What removing organization `code` would remove: count per kind (same collector as the deletion)."""
    organization = organization_get(code=code)
    collector = Collector(using=router.db_for_write(Organization), origin=organization)
    collector.collect([organization])
    counts: Counter[str] = Counter()
    for model, instances in collector.data.items():
        if kind := _kind(model):
            counts[kind] += len(instances)
    for queryset in collector.fast_deletes:
        if kind := _kind(queryset.model):
            counts[kind] += queryset.count()
    return {kind: count for kind, count in sorted(counts.items()) if count}


def organization_remove(*, code: str, dry_run: bool = False) -> dict[str, int]:
    """Remove organization `code` with its members, user mappings, projects, trackers, tasks and work.

    Users are not removed. Returns the count per kind (what would be removed for `dry_run`).
    Raises UnknownOrganizationError.
    """
    if dry_run:
        return organization_removal_counts(code=code)
    with transaction.atomic():
        organization = organization_get(code=code)
        _, deleted = organization.delete()
    counts: Counter[str] = Counter()
    for label, count in deleted.items():
        model = Organization._meta.apps.get_model(label)
        if (kind := _kind(model)) and count:
            counts[kind] += count
    return dict(sorted(counts.items()))
