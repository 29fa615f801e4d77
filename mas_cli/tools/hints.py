"""A function's parameters as JSON Schema: types from its hints, descriptions from its docstring."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from mas_cli.errors import ToolError
from mas_cli.spec.models import JsonSchema
from mas_cli.tools.base import IDEMPOTENCY_PARAM, object_schema

_SCALARS: dict[Any, JsonSchema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    Any: {},
}
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARGS_HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def function_schema(func: Callable[..., Any], where: str) -> JsonSchema:
    """The parameters schema of a function: hints give types, defaults make arguments optional.

    Raises:
        ToolError: a hint cannot be resolved or has no JSON Schema form (`where` names the tool).
    """
    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:
        raise ToolError(f"{where}: type hints cannot be resolved ({exc})") from None
    docs = arg_descriptions(inspect.getdoc(func) or "")
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue  # not nameable by the model; the function still gets its own defaults
        if param.name == IDEMPOTENCY_PARAM:
            continue  # given by mas to side_effect calls, never by the model
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolError(
                f"{where}: '{param.name}' is positional-only",
                hint="tools are called with named arguments; drop the '/'",
            )
        properties[param.name] = _parameter_schema(param, hints, docs, where)
        if param.default is param.empty:
            required.append(param.name)
    return object_schema(properties, required)


def _parameter_schema(
    param: inspect.Parameter, hints: dict[str, Any], docs: dict[str, str], where: str
) -> JsonSchema:
    schema = (
        type_schema(hints[param.name], f"{where}: '{param.name}'") if param.name in hints else {}
    )
    if param.name in docs:
        schema["description"] = docs[param.name]
    if param.default is not param.empty and _is_json(param.default):
        schema["default"] = param.default
    return schema


def type_schema(hint: Any, where: str) -> JsonSchema:
    """JSON Schema of one hint: scalars, list[X], dict[str, X], Literal, Optional and unions."""
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is list or origin is list:
        return {"type": "array", **({"items": type_schema(args[0], where)} if args else {})}
    if hint is dict or origin is dict:
        values = {"additionalProperties": type_schema(args[1], where)} if args else {}
        return {"type": "object", **values}
    if origin is Literal:
        return _literal_schema(args)
    if origin in (Union, types.UnionType):
        return _union_schema(args, where)
    raise ToolError(
        f"{where}: type {hint!r} has no JSON Schema form",
        hint="use str, int, float, bool, list, dict, Literal or Optional, "
        "or give the tool `parameters:` in the crew file",
    )


def _literal_schema(values: tuple[Any, ...]) -> JsonSchema:
    kinds = {_JSON_TYPES.get(type(v)) for v in values}
    single = kinds.pop() if len(kinds) == 1 else None
    return {"type": single, "enum": list(values)} if single else {"enum": list(values)}


def _union_schema(members: tuple[Any, ...], where: str) -> JsonSchema:
    nullable = type(None) in members
    schemas = [type_schema(m, where) for m in members if m is not type(None)]
    if nullable and len(schemas) == 1 and isinstance(schemas[0].get("type"), str):
        # `X | None` reads best to a model as one schema whose type admits null.
        schema = schemas[0]
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": schemas + ([{"type": "null"}] if nullable else [])}


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def first_paragraph(doc: str) -> str:
    """The docstring's summary: its lines up to the first blank line, joined."""
    lines: list[str] = []
    for line in doc.strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


def arg_descriptions(doc: str) -> dict[str, str]:
    """Argument descriptions from a Google-style `Args:` section (continuation lines joined)."""
    found: dict[str, str] = {}
    header_indent: int | None = None
    entry_indent: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        indent = len(line) - len(line.lstrip())
        if header_indent is None:
            match = _ARGS_HEADER.match(line)
            header_indent = len(match.group(1)) if match else None
            continue
        if not line.strip():
            continue
        if indent <= header_indent:
            break  # the next section (Returns:, Raises:, ...)
        entry_indent = indent if entry_indent is None else entry_indent
        entry = _ARG_LINE.match(line.strip()) if indent == entry_indent else None
        if entry:
            current = entry.group(1)
            found[current] = entry.group(2).strip()
        elif current is not None:
            found[current] = f"{found[current]} {line.strip()}".strip()
    return found
