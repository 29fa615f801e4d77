"""`--help` in words, not Python types: flags bare, values named (`--fail-over USD`).

Typer 0.29 shows each parameter's Python type (`<bool>`, `<list[str]>`) and wraps required
arguments in braces in the usage line (`{crew}`). We show what a user types instead: nothing
after a flag, the metavar a command gives, `[a|b|c]` for choices, else the option's name in
capitals; arguments by their name in capitals.

Typer's help renderer (`typer.rich_utils`) imports rich's Markdown and Traceback, with
markdown-it and pygments behind them, a third of `mas --help`'s time; our help is rich markup,
never Markdown, and pretty tracebacks are off. So the renderer is loaded with stand-ins that
import the real class only if it is ever used, and with its paragraphs reflowed (`_reflowed`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

from typer.core import TyperArgument, TyperOption

WORDS = {
    "--home": "DIR",
    "--input": "KEY=VALUE",
    "--arg": "KEY=VALUE",
    "--threshold": "NAME=VALUE",
    "--inputs": "FILE.json",
    "--schema": "FILE.json",
    "--args": "JSON|@FILE",
    "--compare": "RUN",
    "--baseline": "RUN",
    "--log": "RUN",
    "--fail-over": "USD",
    "--max-increase": "PCT",
    "--since": "WHEN",
    "--older-than": "WHEN",
    "--repeat": "N",
    "--limit": "N",
    "--keep": "N",
    "--timeout": "SECONDS",
    "--pattern": "REGEX",
}


def _option_value(option: TyperOption, ctx: Any = None) -> str | None:  # noqa: ARG001
    if option.is_flag:
        return None
    if option.metavar is not None:
        return option.metavar
    long = next((o for o in option.opts if o.startswith("--")), "--value")
    descriptor = option.type_descriptor
    if descriptor.is_choice and descriptor.choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in descriptor.choices) + "]"
    if long == "--crew":
        return "CREW.yaml" if descriptor.is_path else "NAME"
    return WORDS.get(long, long.removeprefix("--").upper())


def _argument_name(argument: TyperArgument) -> str:
    return argument.metavar or (argument.name or "arg").upper()


def _argument_usage(argument: TyperArgument) -> str:
    name = _argument_name(argument)
    name = name if argument.required else f"[{name}]"
    return name + ("..." if argument.nargs != 1 else "")


def _no_type(_argument: TyperArgument, ctx: Any = None) -> None:  # noqa: ARG001
    return None


_DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _Deferred(type):
    """A class that stands for `module.name` and imports it when called or asked an attribute."""

    def _real(cls) -> Any:
        return getattr(importlib.import_module(cls.__module__), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, attr: str) -> Any:
        return getattr(cls._real(), attr)


class _LightLoader(importlib.abc.Loader):
    """Runs a module with stand-ins in place of the modules in _DEFERRED not yet imported."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        stubs = [name for name in _DEFERRED if name not in sys.modules]
        for name in stubs:
            stub = sys.modules[name] = types.ModuleType(name)
            setattr(stub, _DEFERRED[name], _Deferred(_DEFERRED[name], (), {"__module__": name}))
        try:
            self._loader.exec_module(module)
        finally:
            for name in stubs:
                del sys.modules[name]
        module._fix_linebreaks = _reflowed  # type: ignore[attr-defined]


def _reflowed(paragraphs: list[str], _markup_mode: Any) -> str:
    """A command's paragraphs after its first, each made one line for rich to wrap to the
    terminal: Typer 0.29 keeps the docstring's own line breaks, so a paragraph wrapped at 100
    columns in the source drew ragged at 80. A paragraph that starts with \\b keeps its lines."""
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
        for p in paragraphs
    )


class _LightFinder(importlib.abc.MetaPathFinder):
    """Finds `typer.rich_utils` as usual, to be run by _LightLoader."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "typer.rich_utils":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _LightLoader(spec.loader)
        return spec


def install() -> None:
    """Apply the rules above to every command's help (called once, where the app is built)."""
    if not any(isinstance(finder, _LightFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LightFinder())
    TyperOption.display_type_rich = _option_value  # type: ignore[method-assign,assignment]
    TyperArgument.display_type_rich = _no_type  # type: ignore[method-assign,assignment]
    TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[method-assign,assignment]
    TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign,assignment]
