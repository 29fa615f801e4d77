"""Load a crew file: YAML with positions, pydantic models, cross-checks; every problem at once."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any

import yaml
from msgspec import Struct, field
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mas_cli.errors import Problem, SpecError, UsageError
from mas_cli.spec import checks, risks, toolchecks
from mas_cli.spec.findings import Finding, did_you_mean, dotted
from mas_cli.spec.mcp import McpServerSpec
from mas_cli.spec.model_spec import ModelSpec, PriceSpec, RateLimit
from mas_cli.spec.models import (
    AgentSpec,
    CrewSpec,
    InputSpec,
    Limits,
    TaskSpec,
    ToolSpec,
    TriageSpec,
)
from mas_cli.spec.script import Script, ScriptError, ScriptToolCall, ScriptTurn
from mas_cli.spec.yamlpos import LoadError, Located, Path, load_located
from mas_cli.words import figure


class Crew(Struct, frozen=True):
    """A loaded, checked crew and where it came from."""

    spec: CrewSpec
    path: FsPath
    warnings: list[Problem] = field(default_factory=list)

    @property
    def base_dir(self) -> FsPath:
        """The folder tool paths are resolved against."""
        return self.path.parent


def load_crew(path: str | FsPath) -> Crew:
    """Load and check a crew file.

    Raises:
        UsageError: the file cannot be read.
        SpecError: every problem found, located as file:line:col.
    """
    path = FsPath(path)
    text = _read(path)
    try:
        return _load(path, text)
    except RecursionError:  # a self-referencing alias, or nesting deeper than Python recurses
        problem = Problem(
            str(path), 1, 1, "", "nested too deeply to read, or an alias contains itself",
            "flatten the nesting, and never use an anchor's alias (*name) inside the anchor",
        )  # fmt: skip
        raise SpecError([problem]) from None


def _load(path: FsPath, text: str) -> Crew:
    file = str(path)
    located = _parse(text, file)
    problems, spec = _structure(located, file)
    if spec is not None:  # valid, or valid once the values found wrong are left out
        found = _locate(_cross_checks(spec, path.parent.resolve()), located, file)
        problems += [p for p in found if not any(_overlap(p, q) for q in problems)]
    if problems:
        raise SpecError(problems)
    assert spec is not None
    warnings = _locate(risks.crew_warnings(spec), located, file)
    return Crew(spec=spec, path=path, warnings=sorted(warnings, key=lambda p: (p.line, p.col)))


def locate_findings(path: FsPath, findings: Iterable[Finding]) -> list[Problem]:
    """Findings made after loading (by importing a crew's tools), located in its file."""
    return _locate(findings, _parse(_read(path), str(path)), str(path))


MAX_CREW_CHARS = 16 << 20
"""The most of a crew file read: a crew of 16,000 tasks is about 2 MB; /dev/zero is endless."""


def _read(path: FsPath) -> str:
    try:
        with path.open(encoding="utf-8") as handle:
            text = handle.read(MAX_CREW_CHARS + 1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", hint=_nearby_crews()) from None
    except IsADirectoryError:
        raise UsageError(
            f"{path} is a folder", hint=f"give the crew file, e.g. {path / 'crew.yaml'}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc})") from None
    if len(text) > MAX_CREW_CHARS:
        raise UsageError(
            f"{path}: longer than {MAX_CREW_CHARS:,} characters, the most a crew file may be",
            hint="give long texts to the crew as --inputs, or to a tool as a file it reads",
        )
    return text


def _nearby_crews() -> str:
    found = sorted(str(p) for p in FsPath("crews").glob("*/*.yaml"))[:5]
    return "crew files here: " + ", ".join(found) if found else "check the path"


def _parse(text: str, file: str) -> Located:
    try:
        located = load_located(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"not valid YAML: {exc.problem or exc.context}"
        raise SpecError(
            [Problem(file, line, col, "", message, "check indentation and quoting")]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(file, 1, 1, "", f"not valid YAML: {exc}")]) from None
    except LoadError as exc:
        where = dotted(exc.path)
        raise SpecError(
            [Problem(file, exc.pos.line, exc.pos.col, where, exc.message, exc.hint)]
        ) from None
    if not isinstance(located.data, dict):
        what = (
            "empty" if located.data is None else f"a {type(located.data).__name__}, not a mapping"
        )
        hint = "a crew file starts with name:, agents: and tasks:"
        raise SpecError([Problem(file, 1, 1, "", f"the crew file is {what}", hint)])
    return located


def _structure(located: Located, file: str) -> tuple[list[Problem], CrewSpec | None]:
    """Duplicate keys and the models' problems, and the spec: the file's own, or (when its
    problems are all values that can be left out) the spec without them, for the cross-checks
    to find the rest in the same pass; None when the file cannot be read as a crew."""
    problems = [
        Problem(
            file,
            pos.line,
            pos.col,
            dotted(path, located.data),
            "duplicate key",
            f"first given at line {first.line}",
        )
        for path, pos, first in located.duplicates
    ]
    try:
        return problems, CrewSpec.model_validate(located.data)
    except ValidationError as exc:
        errors = exc.errors()
    problems += [_from_pydantic(err, located, file) for err in errors]
    return problems, _mended(located.data, errors)


def _mended(data: dict[str, Any], errors: list[ErrorDetails]) -> CrewSpec | None:
    """The spec with each unknown key and each wrong value left out, if it is then valid;
    None when a wrong value is one the cross-checks read (see `_unread`): left out, it would
    make them report what the file does not say (a name missing that the file defines)."""
    import copy

    paths = []
    for err in errors:
        path = _data_path(err["loc"], data)
        if not (err["type"] == "extra_forbidden" or _unread(path)):
            return None
        paths.append(path)
    mended = copy.deepcopy(data)
    for path in sorted(
        set(paths), key=lambda p: [(isinstance(s, int), s) for s in p], reverse=True
    ):
        parent: Any = mended
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]  # a list's later items go first: the earlier places stay right
    try:
        return CrewSpec.model_validate(mended)
    except ValidationError:
        return None


def _unread(path: Path) -> bool:
    """A value no cross-check reads (a limit, a timeout, a description): left out, it cannot
    make one report a problem elsewhere. Names, references, the process, schemas and prompts
    are read (leaving out `process` would report the manager as out of place)."""
    key = next((str(step) for step in reversed(path) if isinstance(step, str)), "")
    return len(path) > 2 and (key in _UNREAD or key.startswith("max_") or key.endswith("_s"))


_UNREAD = frozenset(
    {"role", "goal", "backstory", "description", "instructions", "expected_output",
     "temperature", "version", "deterministic", "invocations_per_minute", "turns", "ping_pong",
     "repeated_calls", "repeated_failures", "rpm", "tpm", "input", "output", "cached_input"}
)  # fmt: skip


def _overlap(found: Problem, reported: Problem) -> bool:
    """A cross-check's problem about a place already reported (or inside it, or around it)."""
    a, b = found.path, reported.path
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def _cross_checks(spec: CrewSpec, base_dir: FsPath) -> Iterable[Finding]:
    yield from checks.check_references(spec)
    yield from checks.check_graph(spec)
    yield from checks.check_placeholders(spec)
    yield from checks.check_writes(spec)
    yield from checks.check_schemas(spec)
    yield from toolchecks.check_tools(spec, base_dir)


def _locate(findings: Iterable[Finding], located: Located, file: str) -> list[Problem]:
    out = []
    for f in findings:
        pos = located.key_pos(f.path) if f.at == "key" else located.value_pos(f.path)
        out.append(
            Problem(
                file, pos.line, pos.col, dotted(f.path, located.data), f.message, f.hint, f.code
            )
        )
    return out


# --- pydantic errors, in the crew file's words --------------------------------------------------

_SECTION_MODELS: dict[tuple[str | None, ...], type[BaseModel]] = {
    (): CrewSpec,
    ("limits",): Limits,
    ("manager",): AgentSpec,
    ("agents", None): AgentSpec,
    ("tasks", None): TaskSpec,
    ("tools", None): ToolSpec,
    ("tools", None, "mcp"): McpServerSpec,
    ("models", None): ModelSpec,
    ("inputs", None): InputSpec,
    ("rate_limits", None): RateLimit,
    ("prices", None): PriceSpec,
    ("agents", None, "script"): Script,
    ("agents", None, "script", None): ScriptTurn,
    ("agents", None, "script", "turns", None): ScriptTurn,
    ("manager", "script", None): ScriptTurn,
    ("agents", None, "script", None, "tool_calls", None): ScriptToolCall,
    ("agents", None, "script", None, "error"): ScriptError,
    ("triage",): TriageSpec,
}

_PLAIN = {
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
}


_BOUNDS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _from_pydantic(err: ErrorDetails, located: Located, file: str) -> Problem:
    path = _data_path(err["loc"], located.data)
    kind = err["type"]
    if kind == "missing":
        field_name = str(err["loc"][-1])
        pos = located.key_pos(path)
        where = dotted((*path, field_name), located.data)
        return Problem(
            file, pos.line, pos.col, where, f"'{field_name}' is required", f"add {field_name}: ..."
        )
    if kind == "extra_forbidden":
        pos = located.key_pos(path)
        model = _SECTION_MODELS.get(_shape(path[:-1]))
        hint = did_you_mean(str(path[-1]), model.model_fields) if model else None
        if model is ScriptTurn and hint and hint.startswith("did"):
            hint += " a script step takes one of text, data, tool_calls or error, and delay_s"
        return Problem(
            file, pos.line, pos.col, dotted(path, located.data), f"unknown key '{path[-1]}'", hint
        )
    pos = located.value_pos(path)
    message, hint = _describe(err, shown=path[-1:] != ("base_url",))  # it may hold a password
    return Problem(file, pos.line, pos.col, dotted(path, located.data), message, hint)


def _describe(err: ErrorDetails, *, shown: bool = True) -> tuple[str, str | None]:
    value = err.get("input")
    plain = isinstance(value, str | int | float | bool) or value is None
    got = f", got {value!r}" if plain and shown else ""
    if err["type"] == "literal_error":
        expected = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
        hint = did_you_mean(str(value), expected) if isinstance(value, str) else None
        said = f"unknown provider '{value}'" if err["loc"][-1:] == ("provider",) else None
        return said or f"'{value}' is not allowed", hint or f"use one of: {', '.join(expected)}"
    if err["type"] in _PLAIN:
        return _PLAIN[err["type"]] + got, None
    bound = _BOUNDS.get(err["type"])
    if bound:
        word, key = bound
        limit = (err.get("ctx") or {}).get(key)
        limit = figure(limit) if isinstance(limit, int | float) else limit
        return f"must be {word} {limit}{got}", None
    message = err["msg"].removeprefix("Value error, ")
    return message[0].lower() + message[1:] + got, None


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path:
    """pydantic's loc minus its type tags and missing fields: only the steps found in the data."""
    out: list[str | int] = []
    node = data
    for step in loc:
        in_dict = isinstance(node, dict) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and step < len(node)
        if in_dict or in_list:
            node = node[step]
            out.append(step)
    return tuple(out)


_NAMED_SECTIONS = {"agents", "tasks", "tools", "models", "inputs", "rate_limits", "prices"}


def _shape(path: Path) -> tuple[str | None, ...]:
    """("agents", "scorer", "script") -> ("agents", None, "script"): the model's place."""
    rest = [None if isinstance(p, int) else str(p) for p in path]  # list items by place
    if len(path) >= 2 and path[0] in _NAMED_SECTIONS:
        return (str(path[0]), None, *rest[2:])
    return tuple(rest)
