"""YAML to plain Python values, remembering where every key and value sits in the file.

PyYAML's composer gives nodes with marks; we construct the values ourselves so that each path
(`("agents", "scorer", "model")`) maps to its line and column, and duplicate keys are caught
instead of silently keeping the last one.

An alias is built again at each use, so work is bounded: past MAX_ALIAS_NODES values built
from aliases (a "billion laughs" file) or at an alias inside itself, loading stops with an
AliasError that names the anchor.
"""

from __future__ import annotations

from typing import Any

import yaml
from msgspec import Struct, field

Path = tuple[str | int, ...]

# Values an alias may produce in all, summed over every use: a crew that reuses a block of
# settings for thousands of tasks stays far below it; a billion laughs reaches it in a blink.
MAX_ALIAS_NODES = 200_000


class Pos(Struct, frozen=True):
    """A 1-based line and column."""

    line: int
    col: int


class Located(Struct):
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


class LoadError(Exception):
    """A document PyYAML parses but mas does not load, at a line and column, with a fix."""

    def __init__(self, pos: Pos, message: str, hint: str, path: Path = ()) -> None:
        super().__init__(message)
        self.pos, self.message, self.hint, self.path = pos, message, hint, path


class AliasError(LoadError):
    """An alias that expands past the bound, or contains itself."""


class ScalarError(LoadError):
    """A scalar its tag cannot hold: a date that is no date (2026-13-45), an integer past
    Python's 4,300 digits."""


# libyaml when PyYAML was built with it: the pure-Python scanner took seconds per 1,000 tasks.
_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _pos(node: yaml.Node) -> Pos:
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, text: str) -> None:
        self.loader = loader
        self.text = text
        self.out = Located(data=None)
        self.built: set[int] = set()  # nodes built once: building one again is an alias
        self.open: set[int] = set()  # collections being built: meeting one again is a loop
        self.alias: yaml.Node | None = None  # the outermost alias being expanded
        self.expanded = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        again = id(node) in self.built
        self.built.add(id(node))
        if not again or self.alias is not None:
            return self._build(node, path)
        self.alias = node
        try:
            return self._build(node, path)
        finally:
            self.alias = None

    def _build(self, node: yaml.Node, path: Path) -> Any:
        self._count()
        self.out.values[path] = _pos(node)
        if isinstance(node, yaml.ScalarNode):
            return self._construct(node, path)
        self._enter(node)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _enter(self, node: yaml.Node) -> None:
        if id(node) in self.open:
            name = _anchor_name(self.text, node)
            raise AliasError(
                _pos(node),
                f"the alias *{name} is used inside its own anchor &{name}",
                "an anchor cannot contain or merge itself; write the values out",
            )
        self.open.add(id(node))

    def _count(self) -> None:
        if self.alias is None:
            return
        self.expanded += 1
        if self.expanded > MAX_ALIAS_NODES:
            name = _anchor_name(self.text, self.alias)
            raise AliasError(
                _pos(self.alias),
                f"aliases expand to more than {MAX_ALIAS_NODES:,} values (at *{name})",
                "aliases nested inside aliases multiply; write the values out, or nest fewer",
            )

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, Pos] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(result, value_node, path)
                continue
            key = _key(self._construct(key_node, path), key_node, path)
            here = (*path, key)
            if key in seen:
                self.out.duplicates.append((here, _pos(key_node), seen[key]))
            seen[key] = self.out.keys[here] = _pos(key_node)
            result[key] = self.build(value_node, here)
        return result

    def _construct(self, node: yaml.Node, path: Path) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # PyYAML's int() and date() raise these
            raise _scalar_error(node, exc, path) from None

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


def _key(key: Any, node: yaml.Node, path: Path) -> str | int:
    """A mapping key as a name: text and whole numbers as they are, floats and dates as their
    text; a null, a boolean or a collection is refused where it is (str() made them the names
    'None', 'True' and "['a', 'b']", which nobody wrote)."""
    if isinstance(key, bool) or key is None or isinstance(key, list | dict | set | tuple):
        what = {type(None): "null", bool: "a boolean"}.get(type(key), "a list or mapping")
        written = node.value if isinstance(node, yaml.ScalarNode) else "?"
        shown = f" ({written or '(empty)'})" if isinstance(node, yaml.ScalarNode) else ""
        message = f"a key here is {what}{shown}, not a name"
        hint = "write the key as a plain name; quote it to keep it as text, e.g. 'null': or 'yes':"
        raise LoadError(_pos(node), message, hint, path)
    return key if isinstance(key, str | int) else str(key)


def _scalar_error(node: yaml.Node, exc: Exception, path: Path) -> ScalarError:
    text = str(node.value)
    shown = text if len(text) <= 40 else f"{text[:12]}...{text[-8:]}"
    if str(node.tag).endswith(":int"):
        message = f"the integer {shown} has {len(text):,} characters, more than mas reads (4,300)"
        return ScalarError(_pos(node), message, "write a smaller number", path)
    if str(node.tag).endswith(":timestamp"):
        message = f"{shown} reads as a date in YAML, and is none: {exc}"
        return ScalarError(_pos(node), message, f"fix the date, or quote it: '{shown}'", path)
    message = f"{shown} cannot be read as {node.tag}: {exc}"
    return ScalarError(_pos(node), message, "quote it to keep it as text", path)


def _anchor_name(text: str, node: yaml.Node) -> str:
    """The anchor defined where `node` starts (looked up only to word an error)."""
    where = _pos(node)
    for event in yaml.parse(text, Loader=_FAST):
        anchor = getattr(event, "anchor", None)
        mark = event.start_mark
        if anchor and mark and Pos(mark.line + 1, mark.column + 1) == where:
            return str(anchor)
    return "?"


def load_located(text: str) -> Located:
    """Parse one YAML document, keeping positions.

    Raises:
        yaml.YAMLError: the text is not YAML (its problem_mark says where).
        AliasError: aliases expand past MAX_ALIAS_NODES values, or an anchor contains itself.
        ScalarError: a scalar its tag cannot hold (an impossible date, a 5,000-digit integer).
        LoadError: a mapping key that is null, a boolean, a list or a mapping.
    """
    loader = _FAST(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError:
            yaml.SafeLoader(text).get_single_node()  # its errors say more ("but got ':'")
            raise
        builder = _Builder(loader, text)
        builder.out.data = builder.build(node, ()) if node is not None else None
        return builder.out
    finally:
        loader.dispose()
