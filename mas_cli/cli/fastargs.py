"""Derive cli/argtable.py, the fast path's option table, from the Typer commands themselves.

`python -m mas_cli.cli.fastargs` rewrites argtable.py; tests/test_fast_path.py fails when the
table differs from what this derives, and checks that every option parses the same both ways.
So the Typer signatures stay the one source of each command's options.
"""

from __future__ import annotations

import enum
import importlib
import typing
from pathlib import Path
from typing import Any

import typer

from mas_cli.cli.fast import FAST_TARGETS, Param

TABLE = Path(__file__).with_name("argtable.py")


def _function(target: str) -> Any:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def _click_command(path: tuple[str, ...]) -> Any:
    from mas_cli.cli.app import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


def _kind(annotation: Any) -> tuple[str, bool]:
    """`str`, `int`, `path`, `bool` or `choice:module:Class`, and whether it is a list."""
    base = (
        typing.get_args(annotation)[0]
        if typing.get_origin(annotation) is typing.Annotated
        else annotation
    )
    args = [a for a in typing.get_args(base) if a is not type(None)]
    if typing.get_origin(base) in (typing.Union, type(int | None)) and len(args) == 1:
        base = args[0]
    many = typing.get_origin(base) is list
    if many:
        base = typing.get_args(base)[0]
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return f"choice:{base.__module__}:{base.__qualname__}", many
    names = {str: "str", int: "int", bool: "bool", Path: "path"}
    if base not in names:
        raise TypeError(f"the fast path cannot parse {annotation!r}: add its kind to fast.py")
    return names[base], many


def _plain(p: Any) -> None:
    """Refuse what fast.py does not do, so the table cannot leave it out unnoticed."""
    unplain = {
        "envvar": p.envvar,
        "callback": p.callback,
        "is_eager": p.is_eager,
        "count": getattr(p, "count", False),
        "prompt": getattr(p, "prompt", None),
        "min": getattr(p, "min", None) is not None,
        "max": getattr(p, "max", None) is not None,
        "nargs": p.nargs not in (1, -1),
    }
    used = [name for name, value in unplain.items() if value]
    if used:
        raise TypeError(f"the fast path cannot parse {p.name} ({', '.join(used)}): teach fast.py")


def params(path: tuple[str, ...], typer_function: str) -> tuple[Param, ...]:
    """The parameters of one command, from its click command and its function's type hints."""
    hints = typing.get_type_hints(_function(typer_function), include_extras=True)
    found = []
    for p in _click_command(path).params:
        if p.name not in hints:
            continue  # the Typer context, or an option of the root
        _plain(p)
        kind, many = _kind(hints[p.name])
        default = p.default.value if isinstance(p.default, enum.Enum) else p.default
        flags = tuple(p.opts) if p.param_type_name == "option" else ()
        found.append(
            Param(p.name, flags, tuple(p.secondary_opts), kind, many, bool(p.required), default)
        )
    return tuple(found)


def table() -> dict[tuple[str, ...], tuple[Param, ...]]:
    """Every fast command's parameters, as Typer sees them."""
    return {path: params(path, typer_fn) for path, (typer_fn, _) in FAST_TARGETS.items()}


def source() -> str:
    """argtable.py's text."""
    rows = "".join(
        f"    {path!r}: (\n" + "".join(f"        Param{tuple(p)!r},\n" for p in ps) + "    ),\n"
        for path, ps in table().items()
    )
    return (
        '"""Derived from the Typer commands (python -m mas_cli.cli.fastargs): do not edit."""\n\n'
        "from __future__ import annotations\n\n"
        "from mas_cli.cli.fast import Param\n\n"
        "PARAMS: dict[tuple[str, ...], tuple[Param, ...]] = {\n" + rows + "}\n"
    )


if __name__ == "__main__":
    TABLE.write_text(source(), encoding="utf-8")
    print(f"wrote {TABLE}; now run: ruff format {TABLE}")
