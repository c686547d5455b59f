"""Reading `SII_*` configuration from the process environment and an optional `.env` file."""

from __future__ import annotations

import os
import re
from pathlib import Path

from dotenv import dotenv_values

ENVIRONMENTS = ("local", "ci", "stage", "production")
_LIST_SEPARATORS = re.compile(r"[\s,]+")


class ConfigurationError(Exception):
    """A configuration value is missing or malformed; the message names the variable."""


class Environment:
    """Values of the process environment, falling back to a `.env` file.

    The process environment always wins. `${NAME}` in the file refers to earlier variables (python-dotenv).
    """

    def __init__(self, env_file: Path | None) -> None:
        file_values: dict[str, str | None] = {}
        if env_file is not None and env_file.is_file():
            file_values = dotenv_values(env_file, interpolate=True)
        self._values = {key: value for key, value in file_values.items() if value is not None}
        self._values.update(os.environ)
        self.env_file = env_file

    def str(self, name: str, default: str = "") -> str:
        value = self._values.get(name)
        return default if value is None or value == "" else value

    def is_set(self, name: str) -> bool:
        return bool(self._values.get(name))

    def bool(self, name: str, default: bool) -> bool:
        text = self.str(name).strip().lower()
        if not text:
            return default
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigurationError(f"{name} must be true or false, not {text!r}")

    def int(self, name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        text = self.str(name)
        if not text:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ConfigurationError(f"{name} must be a whole number, not {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ConfigurationError(f"{name} must be between {minimum} and {maximum}, not {value}")
        return value

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        """Items separated by commas and/or white space."""
        text = self.str(name)
        if not text:
            return list(default or [])
        return [item for item in _LIST_SEPARATORS.split(text) if item]

    def required(self, name: str, reason: str) -> str:
        value = self.str(name)
        if not value:
            raise ConfigurationError(f"{name} must be set {reason}")
        return value

    def lookup(self, name: str) -> str | None:
        """The value of NAME now (the live process environment first, then `.env`), or None.

        Used to resolve `${NAME}` in organization files, possibly after start-up (e.g. by the demo).
        """
        live = os.environ.get(name)
        return live if live is not None else self._values.get(name)


def env_file_path(base_dir: Path) -> Path | None:
    """The `.env` file to read: `SII_ENV_FILE` if set, else `<base_dir>/.env`."""
    configured = os.environ.get("SII_ENV_FILE")
    if configured:
        return Path(configured)
    return base_dir / ".env"
