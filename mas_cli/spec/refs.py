"""`$ref` in a JSON Schema: resolved inside the schema (and the bundled metaschemas), never
fetched.

jsonschema's default registry retrieves any other URI with `urllib`: a `$ref` to
`http://...` in a crew's output_schema (or an MCP server's tool schema) made a run fetch it,
and one to `file:///...` read a local file. Every validator mas builds gets `REGISTRY`, which
retrieves nothing. `mas validate` reports a `$ref` that does not resolve, and a cycle of
references that never descends into the value (`a: {$ref: '#/$defs/a'}`), which would recurse
until Python gives up; a validator that meets either anyway (a schema an MCP server sent)
fails the value with the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from referencing import Registry
    from referencing._core import Resolver

RefPath = tuple[str | int, ...]
HINT = (
    "mas resolves $ref only inside the schema and never fetches a URL or file: "
    "define it under $defs and write '#/$defs/NAME'"
)
LOOP_HINT = "a schema may refer to itself only for a part of the value: a property or an item"
# Keywords whose subschemas apply to the value itself, not to a part of it: a cycle through
# them alone never ends.
SAME_VALUE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")
NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples"})


@functools.cache
def registry() -> Registry[Any]:
    """The bundled metaschemas, and no retrieval of anything else."""
    from jsonschema_specifications import REGISTRY  # type: ignore[import-untyped]  # jsonschema's

    return cast("Registry[Any]", REGISTRY)


def unresolvable_error(exc: BaseException) -> Any:
    """The jsonschema error a validator gives for a `$ref` it cannot follow."""
    from jsonschema.exceptions import ValidationError

    if isinstance(exc, RecursionError):
        return ValidationError(f"the schema's $ref refer to each other without end ({HINT})")
    ref = getattr(exc, "ref", None) or str(exc)
    return ValidationError(f"$ref {ref!r} cannot be resolved ({HINT})")


def ref_problems(schema: Any, path: RefPath) -> Iterator[tuple[RefPath, str, str]]:
    """(where, message, hint) for each `$ref` that does not resolve, and for a cycle of references
    that never descends into the value. Parts below a nested `$id` are left to the validator."""
    if not isinstance(schema, dict):
        return
    resolver = _resolver(schema)
    if resolver is None:
        return
    places = dict(_nodes(schema, ()))
    for where, ref in _refs(schema, path):
        try:
            resolver.lookup(ref)
        except Exception:  # referencing's Unresolvable and its kin: a bad pointer, a bad URI
            yield where, f"$ref {ref!r} does not resolve inside this schema", HINT
    loop = _cycle(schema, resolver, places)
    if loop is not None:
        where, ref = loop
        message = f"$ref {ref!r} leads back to itself without going into the value"
        yield (*path, *where), message, LOOP_HINT


def _resolver(schema: dict[str, Any]) -> Resolver[Any] | None:
    from referencing.jsonschema import DRAFT202012, specification_with

    try:
        spec = specification_with(str(schema.get("$schema", "")), default=DRAFT202012)
        resource = spec.create_resource(schema)
        uri = resource.id() or ""
        return cast("Resolver[Any]", registry().with_resource(uri, resource).resolver(uri))
    except Exception:  # an unknown $schema: check_schema reports it
        return None


def _refs(schema: Any, path: RefPath) -> Iterator[tuple[RefPath, str]]:
    """(path, ref) for every `$ref` outside data keywords and nested `$id`s."""
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _refs(item, (*path, i))
    elif isinstance(schema, dict):
        if path and "$id" in schema:
            return
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield (*path, key), value
            elif key not in NOT_SCHEMAS:
                yield from _refs(value, (*path, key))


def _nodes(schema: Any, path: RefPath) -> Iterator[tuple[int, RefPath]]:
    """(id, path) of every mapping in the schema, to say where a cycle closes."""
    if isinstance(schema, dict):
        yield id(schema), path
        for key, value in schema.items():
            if key not in NOT_SCHEMAS:
                yield from _nodes(value, (*path, key))
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _nodes(item, (*path, i))


def _cycle(
    root: dict[str, Any], resolver: Resolver[Any], places: dict[int, RefPath]
) -> tuple[RefPath, str] | None:
    """Where a loop of same-value subschemas closes, and the first `$ref` on it."""
    done: set[int] = set()
    for start in _mappings(root):
        if id(start) not in done:
            found = _cycle_from(start, resolver, places, done)
            if found is not None:
                return found
    return None


def _cycle_from(
    start: dict[str, Any], resolver: Resolver[Any], places: dict[int, RefPath], done: set[int]
) -> tuple[RefPath, str] | None:
    stack: list[tuple[Any, Iterator[Any]]] = [(start, _same_value(start, resolver))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            done.add(id(node))
            continue
        on_stack = [n for n, _ in stack]
        if any(n is child for n in on_stack):
            loop = on_stack[next(i for i, n in enumerate(on_stack) if n is child) :]
            first = next(n for n in loop if isinstance(n.get("$ref"), str))
            return (*places.get(id(first), ()), "$ref"), first["$ref"]
        if id(child) not in done:
            stack.append((child, _same_value(child, resolver)))
    return None


def _mappings(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key not in NOT_SCHEMAS:
                yield from _mappings(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _mappings(item)


def _same_value(node: Any, resolver: Resolver[Any]) -> Iterator[Any]:
    """The subschemas that apply to the same value as `node`: its `$ref`, allOf, anyOf, ..."""
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        try:
            target = resolver.lookup(ref).contents
        except Exception:  # reported as unresolvable
            target = None
        if isinstance(target, dict):
            yield target
    for key in SAME_VALUE:
        value = node.get(key)
        items = value if isinstance(value, list) else [value]
        if key == "dependentSchemas" and isinstance(value, dict):
            items = list(value.values())
        yield from (item for item in items if isinstance(item, dict))
