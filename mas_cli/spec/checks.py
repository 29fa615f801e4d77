"""Cross-checks on a parsed crew: references, the task graph, prompts, state writes, schemas.

Each check is a generator of Findings so that every problem is reported at once.
Tools are checked in `spec.toolchecks`; warnings in `spec.warnings`.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator

from mas_cli.spec import graph
from mas_cli.spec.findings import Finding, did_you_mean
from mas_cli.spec.mcp import reference_problem
from mas_cli.spec.models import INLINE_MANAGER, AgentSpec, CrewSpec, JsonSchema
from mas_cli.spec.patterns import HINT as PATTERN_HINT
from mas_cli.spec.patterns import pattern_problems
from mas_cli.spec.plainschema import plain
from mas_cli.spec.providers import PROVIDERS
from mas_cli.spec.refs import ref_problems
from mas_cli.spec.yamlpos import Path


def check_references(crew: CrewSpec) -> Iterator[Finding]:
    """Agents, models, tools, tasks and the manager named anywhere must exist."""
    yield from _check_models(crew)
    for where, agent in _agents(crew):
        for i, tool in enumerate(agent.tools):
            problem = reference_problem(crew, tool)
            if problem:
                yield Finding((*where, "tools", i), *problem)
    yield from _check_task_refs(crew)
    yield from _check_manager(crew)
    yield from _check_rate_limits(crew)


def _agents(crew: CrewSpec) -> Iterator[tuple[Path, AgentSpec]]:
    """Every agent with the path of its definition, an inline manager included."""
    for name, agent in crew.agents.items():
        yield ("agents", name), agent
    if isinstance(crew.manager, AgentSpec):
        yield ("manager",), crew.manager


def _check_models(crew: CrewSpec) -> Iterator[Finding]:
    for where, agent in _agents(crew):
        if crew.model_for(agent.model) is not None:
            continue
        provider, sep, _ = agent.model.partition(":")
        if sep and provider not in PROVIDERS:
            message = f"'{agent.model}' names an unknown provider '{provider}'"
            hint = did_you_mean(provider, PROVIDERS)
        else:
            message = f"'{agent.model}' is not defined under models"
            hint = (
                did_you_mean(agent.model, crew.models)
                or "or write provider:model, e.g. openai:gpt-4o-mini"
            )
        yield Finding((*where, "model"), message, hint)


def _check_task_refs(crew: CrewSpec) -> Iterator[Finding]:
    ids = [t.id for t in crew.tasks]
    first = _first_index(crew)
    for i, task in enumerate(crew.tasks):
        if first[task.id] != i:
            yield Finding(
                ("tasks", i, "id"),
                f"task id '{task.id}' is used twice",
                "give each task its own id",
            )
        if task.agent is None and crew.process != "hierarchical":
            yield Finding(
                ("tasks", i), "'agent' is required", "name the agent that does this task", at="key"
            )
        elif task.agent is not None and task.agent not in crew.agents:
            yield Finding(
                ("tasks", i, "agent"),
                f"agent '{task.agent}' is not defined",
                did_you_mean(task.agent, crew.agents),
            )
        for j, dep in enumerate(task.depends_on):
            yield from _check_dependency(crew, (ids, first), i, j, dep)


def _first_index(crew: CrewSpec) -> dict[str, int]:
    """Each task id -> where it first appears (a dict, not list.index: crews may be huge)."""
    first: dict[str, int] = {}
    for i, task in enumerate(crew.tasks):
        first.setdefault(task.id, i)
    return first


def _check_dependency(
    crew: CrewSpec, known: tuple[list[str], dict[str, int]], i: int, j: int, dep: str
) -> Iterator[Finding]:
    ids, first = known
    path: Path = ("tasks", i, "depends_on", j)
    if dep not in first:
        yield Finding(path, f"task '{dep}' is not defined", did_you_mean(dep, ids))
    elif dep == ids[i]:
        yield Finding(path, "a task cannot depend on itself", "remove it from depends_on")
    elif crew.process != "parallel" and first[dep] > i:
        yield Finding(
            path,
            f"'{dep}' comes later in the file, but a {crew.process} crew runs tasks in file order",
            "move it above this task, or use process: parallel",
        )


def _check_manager(crew: CrewSpec) -> Iterator[Finding]:
    if crew.process == "hierarchical" and crew.manager is None:
        yield Finding(
            ("process",),
            "a hierarchical crew needs a manager",
            "add manager: <agent name>",
            at="key",
        )
    elif crew.process != "hierarchical" and crew.manager is not None:
        yield Finding(
            ("manager",),
            "manager is only used with process: hierarchical",
            "remove it, or set process: hierarchical",
            at="key",
        )
    elif isinstance(crew.manager, str) and crew.manager not in crew.agents:
        yield Finding(
            ("manager",),
            f"agent '{crew.manager}' is not defined",
            did_you_mean(crew.manager, crew.agents),
        )
    elif isinstance(crew.manager, AgentSpec) and INLINE_MANAGER in crew.agents:
        yield Finding(
            ("manager",),
            f"an inline manager is called '{INLINE_MANAGER}', and an agent already has that name",
            f"rename agents.{INLINE_MANAGER}, or name it as the manager: manager: {INLINE_MANAGER}",
            at="key",
        )
    workers = set(crew.agents) - {crew.manager_name}
    if crew.process == "hierarchical" and crew.manager is not None and not workers:
        message = "a hierarchical crew needs a worker besides the manager"
        yield Finding(("agents",), message, "add an agent to delegate to", at="key")


def _check_rate_limits(crew: CrewSpec) -> Iterator[Finding]:
    known = {*PROVIDERS, *crew.models, *(m.model for m in crew.models.values())}
    for key in crew.rate_limits:
        if key not in known:
            hint = did_you_mean(key, known)
            yield Finding(
                ("rate_limits", key),
                f"'{key}' is neither a provider nor a model of this crew",
                hint,
                at="key",
            )


def check_graph(crew: CrewSpec) -> Iterator[Finding]:
    """depends_on must not form a cycle."""
    cycle = graph.find_cycle({t.id: list(t.depends_on) for t in crew.tasks})
    if cycle:
        first = next(i for i, t in enumerate(crew.tasks) if t.id == cycle[0])
        yield Finding(
            ("tasks", first, "depends_on"),
            "depends_on forms a cycle: " + " -> ".join(cycle),
            "remove one of these dependencies",
        )


def check_placeholders(crew: CrewSpec) -> Iterator[Finding]:
    """Every `{name}` in a prompt must be an input, an upstream task or a state key."""
    deps = graph.edges(crew)
    if graph.find_cycle(deps):
        return
    named = {i: _placeholders_or_error(crew, i) for i in range(len(crew.tasks))}
    given = {*crew.inputs, *crew.state}
    asked = {n for names in named.values() if isinstance(names, set) for n in names - given}
    above = graph.precedence(crew, asked)
    for i, names in named.items():
        if isinstance(names, Finding):
            yield names
            continue
        task_id = crew.tasks[i].id
        for name in sorted(n for n in names - given if not above.before(n, task_id)):
            yield _unknown_placeholder(crew, i, name, above)


def _placeholders_or_error(crew: CrewSpec, i: int) -> set[str] | Finding:
    try:
        return placeholders(crew.tasks[i].prompt)
    except ValueError as exc:
        return Finding(
            ("tasks", i, "prompt"),
            f"bad placeholder: {exc}",
            "write {{ and }} for literal braces",
        )


def _unknown_placeholder(
    crew: CrewSpec, i: int, name: str, above: graph.Precedence | graph.FileOrder
) -> Finding:
    path: Path = ("tasks", i, "prompt")
    if any(t.id == name for t in crew.tasks):
        message = (
            f"{{{name}}} names task '{name}', which does not finish before '{crew.tasks[i].id}'"
        )
        return Finding(path, message, f"add '{name}' to depends_on")
    known = {*crew.inputs, *crew.state, *above.upstream(crew.tasks[i].id)}
    dotted = sorted(k for k in known if k.startswith(name + "."))
    if dotted:  # `{risk.level}` reads field `level` of `risk`: a dotted name cannot be named
        message = f"'{dotted[0]}' cannot be named in a prompt, which reads a '.' as a field"
        return Finding(path, message, f"rename it {dotted[0].replace('.', '_')}, without the '.'")
    return Finding(
        path,
        f"{{{name}}} is not an input, an upstream task or a state key",
        did_you_mean(name, known),
    )


def placeholders(template: str) -> set[str]:
    """The root names of `{name}` / `{name.field}` placeholders in a template.

    Raises:
        ValueError: unbalanced braces, or a placeholder with an index (`{a[0]}`), a conversion
            (`{a!r}`) or a format spec (`{a:>10}`), which the prompt renderer does not apply.
    """
    names = set()
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field:
            raise ValueError("empty {} in the text")
        shown = f"{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
        if conversion is not None or spec or "[" in field or "" in field.split("."):
            raise ValueError(f"{shown}: a placeholder is {{name}} or {{name.field}}, nothing more")
        names.add(field.split(".", 1)[0])
    return names


def check_writes(crew: CrewSpec) -> Iterator[Finding]:
    """`writes` must target declared state keys, from fields the output schema has."""
    for i, task in enumerate(crew.tasks):
        if task.writes and task.output_schema is None:
            yield Finding(
                ("tasks", i, "writes"),
                "writes needs an output_schema, so the output has fields",
                "add output_schema: {type: object, ...}",
                at="key",
            )
        if task.writes and crew.process == "hierarchical" and task is not crew.tasks[-1]:
            yield Finding(
                ("tasks", i, "writes"),
                "a hierarchical crew writes state only from the manager's final answer, "
                f"with the last task's writes; '{task.id}' never writes",
                "move writes to the last task, or use process: parallel",
                at="key",
            )
        fields = (task.output_schema or {}).get("properties")
        for field_name, key in task.writes.items():
            path: Path = ("tasks", i, "writes", field_name)
            if key not in crew.state:
                yield Finding(
                    path,
                    f"state key '{key}' is not declared under state",
                    did_you_mean(key, crew.state),
                )
            if isinstance(fields, dict) and field_name not in fields:
                yield Finding(
                    path,
                    f"output field '{field_name}' is not in output_schema.properties",
                    did_you_mean(field_name, fields),
                    at="key",
                )


def check_schemas(crew: CrewSpec) -> Iterator[Finding]:
    """output_schema, each state schema and each tool parameter must be valid JSON Schema."""
    valid: set[str] = set()  # thousands of tasks often share one schema: check it once
    for i, task in enumerate(crew.tasks):
        if task.output_schema is not None:
            yield from schema_problems(task.output_schema, ("tasks", i, "output_schema"), valid)
    for key, schema in crew.state.items():
        yield from schema_problems(schema, ("state", key), valid)
    for name, tool in crew.tools.items():
        for param, schema in (tool.parameters or {}).items():
            yield from schema_problems(schema, ("tools", name, "parameters", param), valid)


def schema_problems(
    schema: JsonSchema, path: Path, valid: set[str] | None = None
) -> Iterator[Finding]:
    """Findings for a schema that is not valid JSON Schema (under its declared draft).
    Schemas found valid are added to `valid` (as canonical JSON) and not checked again."""
    text = _canonical(schema)
    if valid is not None and text in valid:
        return
    invalid = None if plain(schema) else _not_json_schema(schema, path)
    if invalid is not None:
        yield invalid
        return
    problems = [
        Finding(where, message, PATTERN_HINT, at="key" if _is_key(where) else "value")
        for where, message in pattern_problems(schema, path)
    ]
    if not plain(schema):  # a plain schema has no $ref
        problems += [
            Finding(where, message, hint) for where, message, hint in ref_problems(schema, path)
        ]
    yield from problems
    if not problems and valid is not None and text is not None:
        valid.add(text)


def _not_json_schema(schema: JsonSchema, path: Path) -> Finding | None:
    """jsonschema's check against the schema's metaschema (a plain schema needs none)."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where: Path = (*path, *(p for p in exc.path))
        if where[-1] == "type" and isinstance(exc.instance, str):
            hint = did_you_mean(exc.instance, JSON_TYPES)
            return Finding(where, f"'{exc.instance}' is not a JSON Schema type", hint)
        return Finding(where, f"not valid JSON Schema: {exc.message}", SCHEMA_HELP)
    return None


def _is_key(where: Path) -> bool:
    """A patternProperties entry is located at its key: the key is the pattern."""
    return len(where) >= 2 and where[-2] == "patternProperties"


def _canonical(schema: JsonSchema) -> str | None:
    try:
        return json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None  # not plain JSON (a YAML date, mixed keys): checked every time


JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
SCHEMA_HELP = "see https://json-schema.org/understanding-json-schema"
