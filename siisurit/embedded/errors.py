"""The one exception the embedded servers raise for problems a developer can act on."""

from pathlib import Path


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started, reached or stopped; the message names the log file to read."""


def log_tail(path: Path, line_count: int = 20) -> str:
    """The last lines of a server log, to put into an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-line_count:])
    except FileNotFoundError:
        return "(no log written)"
