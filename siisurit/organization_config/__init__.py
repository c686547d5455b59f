"""Organization configuration files: load (line-aware YAML), validate, apply, and remove organizations."""

from siisurit.organization_config.apply import organization_update
from siisurit.organization_config.errors import ConfigProblem, OrganizationConfigError
from siisurit.organization_config.removal import organization_removal_counts, organization_remove
from siisurit.organization_config.summary import ChangeSummary

__all__ = [
    "ChangeSummary",
    "ConfigProblem",
    "OrganizationConfigError",
    "organization_removal_counts",
    "organization_remove",
    "organization_update",
]
