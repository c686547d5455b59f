"""YouTrack's ``fields`` syntax (``id,project(id,shortName),customFields(name,value(name))``) and filtering."""

from __future__ import annotations

from typing import Any

FieldTree = dict[str, "FieldTree | None"]


def parse_fields(text: str) -> FieldTree:
    """Parse a fields expression; ``ValueError`` on unbalanced parentheses."""
    tree, position = _parse(text.replace(" ", ""), 0)
    if position != len(text.replace(" ", "")):
        raise ValueError(f"Invalid fields expression: {text}")
    return tree


def _parse(text: str, position: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    name = ""
    while position < len(text):
        character = text[position]
        if character == ",":
            if name:
                tree.setdefault(name, None)
            name = ""
            position += 1
        elif character == "(":
            subtree, position = _parse(text, position + 1)
            if position >= len(text) or text[position] != ")":
                raise ValueError(f"Invalid fields expression: {text}")
            existing = tree.get(name) or {}
            tree[name] = existing | subtree
            name = ""
            position += 1
        elif character == ")":
            break
        else:
            name += character
            position += 1
    if name:
        tree.setdefault(name, None)
    return tree, position


def pick(value: Any, tree: FieldTree | None) -> Any:
    """Keep what ``tree`` names (``$type`` always); an entity without subfields keeps ``$type`` and ``id``."""
    if isinstance(value, list):
        return [pick(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    picked = {"$type": value["$type"]} if "$type" in value else {}
    if tree is None:
        if "id" in value:
            picked["id"] = value["id"]
        return picked
    for name, subtree in tree.items():
        if name in value and name != "$type":
            picked[name] = pick(value[name], subtree)
    return picked
