"""Loading YAML that remembers the line of every mapping, key and list item, and resolves `${NAME}`.

`${NAME}` in a string is replaced by the variable NAME of the environment or `.env` file; `$${NAME}` stays a
literal `${NAME}`. Undefined variables are reported with file and line, never with any value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from siisurit.organization_config.errors import ConfigProblem, OrganizationConfigError

Lookup = Callable[[str], "str | None"]

_VARIABLE_PATTERN = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")


class LineDict(dict):
    """A YAML mapping with the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A YAML sequence with the line it starts on and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def item_line(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    """SafeLoader building LineDict/LineList and resolving variables in strings."""

    def __init__(self, stream: str, *, path: Path, lookup: Lookup) -> None:
        super().__init__(stream)
        self.path = path
        self.lookup = lookup
        self.problems: list[ConfigProblem] = []


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = _line(node)
    data.key_lines = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in data.key_lines:
            loader.problems.append(
                ConfigProblem(loader.path, _line(key_node), key, f"duplicate key (first on line {data.key_lines[key]})")
            )
            continue
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = _line(key_node)


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = _line(node)
    data.item_lines = []
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=True))
        data.item_lines.append(_line(child))


def _construct_string(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    text = loader.construct_scalar(node)

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        value = loader.lookup(name)
        if value is None:
            loader.problems.append(
                ConfigProblem(
                    loader.path, _line(node), "", f"undefined variable ${{{name}}} (set it in the environment or .env)"
                )
            )
            return ""
        return value

    return _VARIABLE_PATTERN.sub(replace, text) if "$" in text else text


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:str", _construct_string)


def config_load(*, path: Path, lookup: Lookup) -> Any:
    """The YAML document of `path` with line information; raises OrganizationConfigError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise OrganizationConfigError([ConfigProblem(path, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise OrganizationConfigError([ConfigProblem(path, None, "", f"cannot read file: {error}")]) from None
    try:
        loader = _LineLoader(text, path=path, lookup=lookup)
    except yaml.reader.ReaderError as error:  # a control character: PyYAML checks the whole text up front
        line = text[: error.position].count("\n") + 1
        problem = f"invalid YAML: character #x{error.character:04x} is not allowed"
        raise OrganizationConfigError([ConfigProblem(path, line, "", problem)]) from None
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise OrganizationConfigError([ConfigProblem(path, line, "", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as error:
        raise OrganizationConfigError([ConfigProblem(path, None, "", f"invalid YAML: {error}")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise OrganizationConfigError(loader.problems)
    return data
