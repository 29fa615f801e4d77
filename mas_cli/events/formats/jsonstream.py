"""The parts of one JSON document, streamed with ijson: never the whole document in memory.

This is the one place that parses JSON documents for the chat and trajectory readers; the
"records of a JSON document whatever the layout" reader (jsondoc.py) can take its place.

Objects are walked down to DESCEND levels: each scalar in them is a part of its own, each
array in them gives its items one at a time, each built whole (a message, a step, a record).
A top-level array gives its items the same way. So memory is one item at a time, whatever the
size of the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import ijson

DESCEND = 3
Path = tuple[str | int, ...]
Event = tuple[str, Any]
DOCUMENT_ERRORS = (ijson.JSONError, UnicodeDecodeError)
"""What a document that is not JSON (or not UTF-8), or ends early, raises (after the parts
before the fault)."""


class Readable(Protocol):
    """What a document is read from: a binary file, or anything with its `read`."""

    def read(self, size: int = -1, /) -> bytes: ...


def json_parts(handle: Readable) -> Iterator[tuple[Path, Any]]:
    """(path, value) for each scalar of the walked objects and each item of their arrays.

    Raises:
        ijson.JSONError: the document is not JSON, or ends early.
        UnicodeDecodeError: it is not UTF-8.
    """
    # basic_parse keeps no path per event: deep nesting costs it no more than its bytes
    events: Iterator[Event] = iter(ijson.basic_parse(handle, use_float=True))
    first = next(events, None)
    if first is not None:
        yield from _walk(events, first, ())


def json_keys(prefix: bytes) -> set[str]:
    """The keys of the objects in the first bytes of a document (which may end anywhere);
    those of the top-level object are given with a leading dot too (`.trajectory`)."""
    from mas_cli.events.formats.jsondoc import head_events  # bounded in depth and size

    keys: set[str] = set()
    for path, event, value in head_events(prefix):
        if event == "map_key":
            keys.add(str(value))
            if not path:
                keys.add(f".{value}")
    return keys


def _walk(events: Iterator[Event], first: Event, path: Path) -> Iterator[tuple[Path, Any]]:
    if first[0] == "start_array":
        yield from _items(events, path)
    elif first[0] == "start_map" and len(path) < DESCEND:
        yield from _fields(events, path)
    else:
        yield path, _build(events, first)


def _fields(events: Iterator[Event], path: Path) -> Iterator[tuple[Path, Any]]:
    key = ""
    for event, value in events:
        if event == "end_map":
            return
        if event == "map_key":
            key = str(value)
        else:
            yield from _walk(events, (event, value), (*path, key))


def _items(events: Iterator[Event], path: Path) -> Iterator[tuple[Path, Any]]:
    for index, (event, value) in enumerate(events):
        if event == "end_array":
            return
        yield (*path, index), _build(events, (event, value))


def _build(events: Iterator[Event], first: Event) -> Any:
    """One value whole: a scalar, or a container built from its events (ijson's ObjectBuilder,
    inlined: twice as fast, and a parent map's next event is always a key or its end, so no
    key needs to be remembered across a child)."""
    event, root = first
    if event == "start_map":
        root = {}
    elif event == "start_array":
        root = []
    else:
        return root
    stack: list[Any] = [root]
    key: Any = None
    for event, value in events:
        if event == "map_key":
            key = value
            continue
        if event == "end_map" or event == "end_array":  # noqa: PLR1714 - faster than `in`
            stack.pop()
            if not stack:
                break
            continue
        new = {} if event == "start_map" else [] if event == "start_array" else value
        top = stack[-1]
        if type(top) is list:
            top.append(new)
        else:
            top[key] = new
        if event == "start_map" or event == "start_array":  # noqa: PLR1714
            stack.append(new)
    return root
