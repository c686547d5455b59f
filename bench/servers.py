"""The servers a benchmark uses: the project's own configuration, as for every command, with a database of its own.

In the `local` environment without SII_POSTGRES_HOST / SII_REDIS_URL these are the embedded servers private to the
checkout (started if needed); otherwise the configured ones. A benchmark never falls back to a default address.

Django's debug mode is off unless SII_DEBUG says otherwise (it is on by default in `local`): deployed workers run
without it, and with it every SQL statement is rendered and kept, about a tenth of a worker's CPU for a download
that finds nothing new. The benchmark's worker processes inherit the setting; the first line names it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPOSITORY = Path(__file__).resolve().parent.parent


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def use_project_servers(database: str | None) -> str:
    """Set up Django with the project's configuration and `database` (created if missing); the line naming the servers.

    Call before anything reads Django's settings. The caller prints the line first.
    """
    if str(REPOSITORY) not in sys.path:
        sys.path.insert(0, str(REPOSITORY))
    if database:
        os.environ["SII_POSTGRES_DATABASE"] = database
    from siisurit.environment import Environment, env_file_path

    if not Environment(env_file_path(REPOSITORY)).is_set("SII_DEBUG"):  # the .env file may set it too
        os.environ["SII_DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siisurit.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("ensure_database", verbosity=0)
    postgres = settings.DATABASES["default"]
    postgres_origin = "embedded" if settings.USE_EMBEDDED_POSTGRES else "configured"
    redis_origin = "embedded" if settings.USE_EMBEDDED_REDIS else "configured"
    redis_url = _without_credentials(settings.SII_REDIS_URL)
    debug = "on" if settings.DEBUG else "off"
    return (
        f"servers: PostgreSQL {postgres['HOST']}:{postgres['PORT']} database {postgres['NAME']} ({postgres_origin}),"
        f" Redis {redis_url} ({redis_origin}; environment {settings.SII_ENVIRONMENT}, Django debug mode {debug})"
    )
