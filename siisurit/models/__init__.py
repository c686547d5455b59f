"""All models of Siisurit."""

from siisurit.models.organization import Organization, OrganizationProfile, Project, UserMapping, UserMappingEntry
from siisurit.models.task import Task, TaskAssignee
from siisurit.models.tracker import TASK_API_KINDS, WORK_API_KINDS, ApiKind, DownloadOutcome, Tracker
from siisurit.models.user import User
from siisurit.models.work import MatchOn, WorkEntry, WorkEntryMatch, WorkMatch, WorkMatchState

__all__ = [
    "TASK_API_KINDS",
    "WORK_API_KINDS",
    "ApiKind",
    "DownloadOutcome",
    "MatchOn",
    "Organization",
    "OrganizationProfile",
    "Project",
    "Task",
    "TaskAssignee",
    "Tracker",
    "User",
    "UserMapping",
    "UserMappingEntry",
    "WorkEntry",
    "WorkEntryMatch",
    "WorkMatch",
    "WorkMatchState",
]
