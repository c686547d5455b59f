"""``manage.py run_sandbox``: run the sandbox trackers (local GitHub, GitLab, Jira, YouTrack, Kimai, Clockodo)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sandbox.cli import add_arguments, sandbox_from_options, serve_until_signal


class Command(BaseCommand):
    help = (
        "Run local imitations of GitHub, GitLab, Jira, YouTrack, Kimai and Clockodo with seeded data, one port "
        "per tracker on a loopback address, until Ctrl-C. Prints each tracker's base URL, api_location and "
        "credentials."
    )

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        try:
            sandbox = sandbox_from_options(options)
        except ValueError as error:
            raise CommandError(str(error)) from error
        try:
            serve_until_signal(sandbox, self._write)
        except OSError as error:
            raise CommandError(f"cannot start the sandbox trackers: {error}") from error

    def _write(self, line: str) -> None:
        if self.verbosity < 1:
            return
        self.stdout.write(line)
        self.stdout.flush()
