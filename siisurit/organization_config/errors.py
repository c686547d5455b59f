"""Errors in organization configuration files, each naming file, line and key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a configuration file."""

    path: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        location = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{location}: {self.key}: {self.message}" if self.key else f"{location}: {self.message}"


class OrganizationConfigError(Exception):
    """A configuration file cannot be applied; `problems` lists everything found, in file order."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(problems, key=lambda problem: (problem.line or 0, problem.key))
        super().__init__(self._message())

    def _message(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        return f"{len(self.problems)} problems:\n" + "\n".join(f"  {problem}" for problem in self.problems)
