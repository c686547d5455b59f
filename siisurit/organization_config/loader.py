"""Loading YAML that remembers the line of every mapping, key and list item.

Variables (`${NAME}`) are left as they are here: validation expands them only where allowed (`variables.py`).
The file is read only if it is a regular file within the size limit (`siisurit/input_files.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from siisurit.input_files import InputFileError, input_file_bytes
from siisurit.organization_config.errors import ConfigProblem, OrganizationConfigError


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
    """SafeLoader building LineDict/LineList."""

    def __init__(self, stream: str, *, path: Path) -> None:
        super().__init__(stream)
        self.path = path
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


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def config_load(*, path: Path, max_bytes: int) -> Any:
    """The YAML document of `path` with line information; raises OrganizationConfigError naming file and line."""
    try:
        text = input_file_bytes(path, max_bytes=max_bytes).decode("utf-8-sig")
    except InputFileError as error:
        raise OrganizationConfigError([ConfigProblem(path, None, "", str(error))]) from None
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text ({error.reason} at byte {error.start})"
        raise OrganizationConfigError([ConfigProblem(path, None, "", problem)]) from None
    try:
        loader = _LineLoader(text, path=path)
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
    except RecursionError:
        raise OrganizationConfigError([ConfigProblem(path, None, "", "invalid YAML: nested too deeply")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise OrganizationConfigError(loader.problems)
    return data
