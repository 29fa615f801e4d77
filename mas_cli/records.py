"""Records: mas's runtime value types are msgspec Structs, not dataclasses.

Defining a dataclass runs `exec` on generated source for each of its methods: about 0.4-0.9 ms a
class on a small machine, and `mas run` defines some 70 of them before its first model call
(`mas triage loops` some 35). A Struct is defined in about 0.02 ms and behaves the same way for
a record (fields in order, keyword or positional construction, defaults, `frozen=True`, equality,
a readable repr, `match`), with slots and no instance `__dict__`. Classes that need what a Struct
lacks (a field hidden from `repr`, `init=False`, a `__post_init__` that must not run again on
copy or unpickling, an instance `__dict__`) stay dataclasses.

`replace` and `asdict` take either kind, so a call site need not know which one it holds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from msgspec import Struct, structs

T = TypeVar("T")


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the record with these fields changed (dataclasses.replace for either kind)."""
    if isinstance(obj, Struct):
        return structs.replace(obj, **changes)
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def asdict(obj: Any) -> dict[str, Any]:
    """The record's fields as a dict, nested records, lists, tuples and dicts converted too, as
    dataclasses.asdict does (other values are shared, not copied)."""
    converted = _plain(obj)
    if not isinstance(converted, dict):
        raise TypeError(f"asdict() takes a record, not {type(obj).__name__}")
    return converted


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value) if not hasattr(value, "_fields") else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
