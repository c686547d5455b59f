"""Reading one YAML mapping of a configuration file with typed accessors that collect problems instead of raising."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from siisurit.organization_config.errors import ConfigProblem
from siisurit.organization_config.loader import LineDict, LineList
from siisurit.organization_config.variables import EXPANDED_KEYS, Lookup, variables_expanded, variables_refused

_TYPE_NAMES = {bool: "true/false", int: "a number", float: "a number", str: "a text", list: "a list", dict: "a mapping"}


def type_name(value: Any) -> str:
    if value is None:
        return "empty"
    for python_type, name in _TYPE_NAMES.items():
        if isinstance(value, python_type):
            return name
    return type(value).__name__


class Section:
    """A mapping at `key_path` (e.g. `organization.projects[0]`); remembers which keys were read.

    Texts of `EXPANDED_KEYS` get their `${NAME}` variables from `lookup`; other texts refuse variables.
    """

    def __init__(
        self, data: LineDict, *, key_path: str, path: Path, problems: list[ConfigProblem], lookup: Lookup
    ) -> None:
        self.data = data
        self.key_path = key_path
        self.path = path
        self.problems = problems
        self.lookup = lookup
        self._known_keys: set[str] = set()

    @property
    def line(self) -> int:
        return self.data.line

    def key_line(self, key: str) -> int:
        return self.data.key_line(key)

    def child_path(self, key: str) -> str:
        return f"{self.key_path}.{key}" if self.key_path else key

    def problem(self, key: str, message: str, line: int | None = None) -> None:
        line = line if line is not None else self.key_line(key) if key else self.line
        self.problems.append(ConfigProblem(self.path, line, self.child_path(key) if key else self.key_path, message))

    def _value(self, key: str, required: bool) -> Any:
        self._known_keys.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                self.problem("", f"missing required key '{key}'")
            return None
        return self.data[key]

    def text(self, key: str, *, required: bool = False, default: str = "", max_length: int | None = None) -> str:
        """A string; whole numbers are accepted (YAML reads `code: 2024` as a number)."""
        value = self._value(key, required)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.problem(key, f"must be a text, not {type_name(value)}")
            return default
        value = self._checked_text(key, value)
        if required and not value.strip():
            self.problem(key, "must not be empty")
        if max_length is not None and len(value) > max_length:
            self.problem(key, f"is too long ({len(value)} characters, at most {max_length})")
        return value

    def _checked_text(self, key: str, value: str, line: int | None = None) -> str:
        """`value` with its variables expanded or refused (by `key`); NUL characters are refused."""
        if "\x00" in value:
            self.problem(key, "contains a NUL character (\\0), which cannot be stored", line)
            value = value.replace("\x00", "")
        if key in EXPANDED_KEYS:
            value, problems = variables_expanded(value, lookup=self.lookup)
        else:
            value, problems = variables_refused(value)
        for problem in problems:
            self.problem(key, problem, line)
        return value

    def integer(self, key: str, *, default: int = 0) -> int:
        value = self._value(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"must be a whole number, not {type_name(value)}")
            return default
        return value

    def decimal(self, key: str) -> Decimal | None:
        value = self._value(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"must be a number, not {type_name(value)}")
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.problem(key, f"must be a number, not {value!r}")
            return None
        if not number.is_finite() or not 0 <= number < 10**10:
            self.problem(key, "must be a number of hours between 0 and 9999999999")
            return None
        # The column keeps two decimals; rounding here keeps a second import from seeing a change.
        return number.quantize(Decimal("0.01"))

    def text_list(self, key: str, *, required: bool = False) -> list[tuple[str, int]]:
        """A list of strings, or a single string standing for a list of one; each with its line."""
        value = self._value(key, required)
        if value is None:
            return []
        if isinstance(value, str):
            return [(self._checked_text(key, value), self.key_line(key))]
        if not isinstance(value, LineList):
            self.problem(key, f"must be a text or a list of texts, not {type_name(value)}")
            return []
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(f"{key}[{index}]", f"must be a text, not {type_name(item)}", value.item_line(index))
                continue
            result.append((self._checked_text(f"{key}[{index}]", item, value.item_line(index)), value.item_line(index)))
        if required and not result:
            self.problem(key, "must name at least one item")
        return result

    def sections(self, key: str) -> list[Section]:
        """The mappings of a list at `key` (missing = empty list)."""
        value = self._value(key, False)
        if value is None:
            return []
        if not isinstance(value, LineList):
            self.problem(key, f"must be a list, not {type_name(value)}")
            return []
        result = []
        for index, item in enumerate(value):
            item_path = f"{key}[{index}]"
            if not isinstance(item, LineDict):
                self.problem(item_path, f"must be a mapping, not {type_name(item)}", value.item_line(index))
                continue
            key_path = self.child_path(item_path)
            result.append(Section(item, key_path=key_path, path=self.path, problems=self.problems, lookup=self.lookup))
        return result

    def check_unknown_keys(self) -> None:
        """Report every key that no accessor read."""
        expected = ", ".join(sorted(self._known_keys))
        for key in self.data:
            if key not in self._known_keys:
                self.problem(key, f"unknown key (expected one of: {expected})")
