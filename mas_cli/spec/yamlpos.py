"""YAML to plain Python values, remembering where every key and value sits in the file.

PyYAML's composer gives nodes with marks; we construct the values ourselves so that each path
(`("agents", "scorer", "model")`) maps to its line and column, and duplicate keys are caught
instead of silently keeping the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column."""

    line: int
    col: int


@dataclass
class Located:
    """A parsed document and the positions of its nodes."""

    data: Any
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    duplicates: list[tuple[Path, Pos, Pos]] = field(default_factory=list)

    def value_pos(self, path: Path) -> Pos:
        """Where the value at `path` starts, or its nearest located ancestor."""
        return _nearest(self.values, path)

    def key_pos(self, path: Path) -> Pos:
        """Where the key naming `path` starts (its value's position for list items)."""
        return self.keys.get(path) or self.value_pos(path)


def _nearest(table: dict[Path, Pos], path: Path) -> Pos:
    for end in range(len(path), -1, -1):
        if path[:end] in table:
            return table[path[:end]]
    return Pos(1, 1)


def _pos(node: yaml.Node) -> Pos:
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.out = Located(data=None)

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.out.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, Pos] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(result, value_node, path)
                continue
            key = self.loader.construct_object(key_node, deep=True)
            key = key if isinstance(key, str | int) else str(key)
            here = (*path, key)
            if key in seen:
                self.out.duplicates.append((here, _pos(key_node), seen[key]))
            seen[key] = self.out.keys[here] = _pos(key_node)
            result[key] = self.build(value_node, here)
        return result

    def _merge(self, result: dict[Any, Any], value_node: yaml.Node, path: Path) -> None:
        # `<<: *anchor` (or a list of anchors): copy keys not given explicitly; explicit keys win.
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        own = self.out.values[path]
        for source in sources:
            merged = self.build(source, path)
            self.out.values[path] = own
            if isinstance(merged, dict):
                for key, value in merged.items():
                    result.setdefault(key, value)


def load_located(text: str) -> Located:
    """Parse one YAML document, keeping positions.

    Raises:
        yaml.YAMLError: the text is not YAML (its problem_mark says where).
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        builder = _Builder(loader)
        builder.out.data = builder.build(node, ()) if node is not None else None
        return builder.out
    finally:
        loader.dispose()
