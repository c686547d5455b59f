"""What `status()` reports about one embedded server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceStatus:
    """The state of one embedded server; `address` never contains a password."""

    name: str
    running: bool
    pid: int | None
    address: str
    data_path: Path
    log_path: Path
