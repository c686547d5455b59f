"""Organizations and projects by the codes a user types; an unknown code is answered with the known ones."""

from __future__ import annotations

from siisurit.errors import PermanentError
from siisurit.models import Organization, Project


class UnknownCodeError(PermanentError, LookupError):
    """No organization or project has the code given; the message lists the known codes."""


class UnknownOrganizationError(UnknownCodeError):
    """No organization has the code given."""


class UnknownProjectError(UnknownCodeError):
    """The organization has no project with the code given."""


def _known(codes: list[str]) -> str:
    return ", ".join(codes) or "none"


def organization_get(*, code: str) -> Organization:
    """The organization with `code`; UnknownOrganizationError lists the codes of all organizations."""
    organization = Organization.objects.filter(code=code).first()
    if organization is None:
        known = _known(list(Organization.objects.order_by("code").values_list("code", flat=True)))
        raise UnknownOrganizationError(f"unknown organization '{code}' (known: {known})")
    return organization


def project_get(*, organization: Organization, code: str) -> Project:
    """The project of `organization` with `code`; UnknownProjectError lists the organization's project codes."""
    projects = Project.objects.filter(organization=organization)
    project = projects.filter(code=code).first()
    if project is None:
        known = _known(list(projects.order_by("code").values_list("code", flat=True)))
        raise UnknownProjectError(f"unknown project '{code}' in organization '{organization.code}' (known: {known})")
    return project
