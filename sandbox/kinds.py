"""Tracker kinds the sandbox imitates, in the order of ``--ports`` ranges."""

KINDS = ("github", "gitlab", "jira", "youtrack", "kimai", "clockodo")
TASK_KINDS = ("github", "gitlab", "jira", "youtrack")
ENTRY_KINDS = ("kimai", "clockodo")
