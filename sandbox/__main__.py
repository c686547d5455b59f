"""``python -m sandbox``: run the sandbox trackers until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from sandbox.cli import add_arguments, sandbox_from_options, serve_until_signal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Local imitations of GitHub, GitLab, Jira, YouTrack, Kimai and Clockodo with seeded data.",
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        sandbox = sandbox_from_options(options)
    except ValueError as error:
        parser.error(str(error))
    try:
        serve_until_signal(sandbox, lambda line: sys.stdout.write(line + "\n") and sys.stdout.flush())
    except OSError as error:
        sys.stderr.write(f"cannot start the sandbox trackers: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
