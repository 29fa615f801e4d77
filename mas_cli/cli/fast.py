"""Commands without Typer: the read-only `runs`, `show`, `cost-report`, `triage loops`,
`cache stats` and `validate`, and `run`, parse their options here, from cli/argtable.py, and
call the same function in cli/actions/ that their Typer command calls.

Typer (with click, and the pydantic adapters Typer 0.29 builds for each parameter) costs about
half of these commands' start-up. argtable.py is derived from the Typer signatures
(cli/fastargs.py), so both paths know the same options. The fast path takes only what it parses
plainly: `--help`, an unknown option, a value it cannot convert, a missing argument, shell
completion, anything unusual goes to Typer, which says what is wrong as it always has.
"""

from __future__ import annotations

import enum
import importlib
import os
import re
from pathlib import Path
from typing import Any, NamedTuple


class Param(NamedTuple):
    """One parameter of a command, as Typer declares it."""

    name: str  # the keyword of the command's function
    flags: tuple[str, ...]  # `--limit`, `-n`; () for an argument
    off: tuple[str, ...]  # flags that set a bool option to False
    kind: str  # str, int, path, bool, or choice:module:Class (an Enum)
    many: bool  # a repeatable option, or an argument that takes the rest
    required: bool
    default: Any


# command path -> (its Typer function, the action both paths call)
FAST_TARGETS: dict[tuple[str, ...], tuple[str, str]] = {
    ("runs",): ("mas_cli.cli.runs:runs", "mas_cli.cli.actions.runs:runs"),
    ("show",): ("mas_cli.cli.runs:show", "mas_cli.cli.actions.runs:show"),
    ("cost-report",): ("mas_cli.cli.cost:cost_report", "mas_cli.cli.actions.cost:cost_report"),
    ("triage", "loops"): ("mas_cli.cli.triage:loops", "mas_cli.cli.actions.triage:loops"),
    ("cache", "stats"): ("mas_cli.cli.cache:stats", "mas_cli.cli.actions.cache:stats"),
    ("validate",): ("mas_cli.cli.validate:validate", "mas_cli.cli.actions.validate:validate"),
    ("run",): ("mas_cli.cli.run:run", "mas_cli.cli.actions.run:run"),
}

_INT = re.compile(r"[+-]?[0-9]+")


class _NotPlain(Exception):
    """Typer's to handle."""


def parse(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """The action and its keyword arguments for `argv`, or None when Typer should parse it."""
    from mas_cli.cli.argtable import PARAMS

    if os.environ.get("_MAS_COMPLETE"):
        return None
    for path, params in PARAMS.items():
        if tuple(argv[: len(path)]) == path:
            try:
                return FAST_TARGETS[path][1], _keywords(params, argv[len(path) :])
            except _NotPlain:
                return None
    return None


def _keywords(params: tuple[Param, ...], args: list[str]) -> dict[str, Any]:
    by_flag = {f: p for p in params for f in p.flags + p.off}
    values: dict[str, Any] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token == "--":
            positional += rest
            break
        if token.startswith("-") and token != "-":
            flag, eq, inline = token.partition("=")
            param = by_flag.get(flag)
            if param is None or token in ("--help", "-h"):
                raise _NotPlain
            _option(param, flag, inline if eq else None, rest, values)
        else:
            positional.append(token)
    _arguments([p for p in params if not p.flags], positional, values)
    if any(p.required and p.name not in values for p in params):
        raise _NotPlain  # Typer says which is missing
    return {p.name: values[p.name] if p.name in values else _default(p) for p in params}


def _option(
    p: Param, flag: str, inline: str | None, rest: list[str], values: dict[str, Any]
) -> None:
    if p.kind == "bool":
        if inline is not None:
            raise _NotPlain
        values[p.name] = flag not in p.off
        return
    if inline is None:
        if not rest:
            raise _NotPlain
        inline = rest.pop(0)  # whatever it looks like, as click takes it (`--limit -3`)
    value = _convert(p.kind, inline)
    if p.many:
        values.setdefault(p.name, []).append(value)
    else:
        values[p.name] = value


def _arguments(params: list[Param], positional: list[str], values: dict[str, Any]) -> None:
    for p in params:
        if p.many:
            taken, positional = positional, []
            if taken:
                values[p.name] = [_convert(p.kind, v) for v in taken]
        elif positional:
            values[p.name] = _convert(p.kind, positional.pop(0))
        if p.required and p.name not in values:
            raise _NotPlain
    if positional:
        raise _NotPlain  # an extra argument, or a subcommand (`mas runs prune`)


def _convert(kind: str, text: str) -> Any:
    if kind == "str":
        return text
    if kind == "path":
        return Path(text)
    if kind == "int":
        if not _INT.fullmatch(text):
            raise _NotPlain
        return int(text)
    if kind.startswith("choice:"):
        _, module, name = kind.split(":")
        choices: type[enum.Enum] = getattr(importlib.import_module(module), name)
        if text not in {c.value for c in choices}:
            raise _NotPlain
        return choices(text)
    raise _NotPlain


def _default(p: Param) -> Any:
    if p.kind.startswith("choice:") and p.default is not None:
        return _convert(p.kind, p.default)
    return p.default


def run(argv: list[str]) -> int | None:
    """Run `argv` on the fast path; None when Typer should take it."""
    parsed = parse(argv)
    if parsed is None:
        return None
    from mas_cli.cli.boundary import exit_code, flushed
    from mas_cli.cli.streams import degrade_streams

    target, keywords = parsed
    module, attr = target.split(":")
    degrade_streams()
    try:
        code = getattr(importlib.import_module(module), attr)(**keywords)
    except (Exception, KeyboardInterrupt) as exc:
        if (code := exit_code(exc)) is None:
            raise
    return flushed(code)
