"""`--help` in words, not Python types: flags bare, values named (`--fail-over USD`).

Typer 0.29 shows each parameter's Python type (`<bool>`, `<list[str]>`) and wraps required
arguments in braces in the usage line (`{crew}`). We show what a user types instead: nothing
after a flag, the metavar a command gives, `[a|b|c]` for choices, else the option's name in
capitals; arguments by their name in capitals.
"""

from __future__ import annotations

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


def install() -> None:
    """Apply the rules above to every command's help (called once, where the app is built)."""
    TyperOption.display_type_rich = _option_value  # type: ignore[method-assign,assignment]
    TyperArgument.display_type_rich = _no_type  # type: ignore[method-assign,assignment]
    TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[method-assign,assignment]
    TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign,assignment]
