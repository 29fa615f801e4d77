"""Static checks of tool declarations: a function must resolve, a command must be runnable.

Nothing here imports or runs the user's code: function files are read with `ast`.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import string
from collections.abc import Iterator
from pathlib import Path as FsPath

from mas_cli.spec.findings import Finding, did_you_mean
from mas_cli.spec.models import PROVIDER_KEY_ENV, CrewSpec, ToolSpec

PYTHON_NAMES = ("python", "python3")


def check_tools(crew: CrewSpec, base_dir: FsPath) -> Iterator[Finding]:
    """Every tool's function or command must resolve from the crew file's folder."""
    for name, tool in crew.tools.items():
        if tool.function is not None:
            yield from _check_function(name, tool.function, base_dir)
        elif tool.command is not None:
            yield from _check_command(name, tool, base_dir)
        yield from _check_env(name, tool, key_variables(crew))


def key_variables(crew: CrewSpec) -> set[str]:
    """The variables holding a key some model of the crew may send, and the providers' own."""
    named = {m.api_key_env for m in crew.models.values() if m.api_key_env}
    return {*PROVIDER_KEY_ENV.values(), *named}


def _check_env(name: str, tool: ToolSpec, keys: set[str]) -> Iterator[Finding]:
    """`env:` passes variables to a command; never a model's key."""
    if tool.env and tool.function is not None:
        yield Finding(
            ("tools", name, "env"),
            "only command tools take env:",
            "a function tool runs inside mas and reads its environment; remove env:",
        )
    for i, var in enumerate(tool.env):
        if var in keys:
            yield Finding(
                ("tools", name, "env", i),
                f"{var} holds a model's key and is never passed to a tool",
                "give the tool its own credential in another variable",
            )


def split_function_ref(ref: str) -> tuple[str, str] | None:
    """`tools.py:lookup` -> ("tools.py", "lookup"); None when there is no `:func` part."""
    target, sep, func = ref.rpartition(":")
    return (target, func) if sep and target and func.isidentifier() else None


def is_file_ref(target: str) -> bool:
    """`tools.py` and `lib/tools.py` are files next to the crew; `pkg.mod` is a module."""
    return target.endswith(".py") or "/" in target or os.sep in target


def _check_function(name: str, ref: str, base_dir: FsPath) -> Iterator[Finding]:
    path = ("tools", name, "function")
    parts = split_function_ref(ref)
    if parts is None:
        yield Finding(
            path, f"'{ref}' is not of the form file.py:function or package.module:function"
        )
        return
    target, func = parts
    if is_file_ref(target):
        source = (base_dir / target).resolve()
        if not source.is_file():
            yield Finding(
                path,
                f"{target} not found (looked for {source})",
                "paths are relative to the crew file",
            )
            return
    else:
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            yield Finding(
                path,
                f"module '{target}' cannot be imported",
                "install it, or use a file path: tools.py:func",
            )
            return
        if spec.origin is None or not spec.origin.endswith(".py"):
            return
        source = FsPath(spec.origin)
    yield from _check_defined(path, source, target, func)


def _check_defined(
    path: tuple[str, ...], source: FsPath, target: str, func: str
) -> Iterator[Finding]:
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        yield Finding(path, f"{target} cannot be read: {exc}")
        return
    defined = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    defined += [
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    ]
    defined += [
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]
    if func not in defined:
        yield Finding(path, f"{target} has no function '{func}'", did_you_mean(func, defined))


def _check_command(name: str, tool: ToolSpec, base_dir: FsPath) -> Iterator[Finding]:
    assert tool.command is not None
    program = tool.command[0]
    path = ("tools", name, "command", 0)
    if "{" in program:
        yield Finding(path, "the program itself cannot be a placeholder", "name a fixed executable")
    elif resolve_program(program, base_dir) is None:
        yield Finding(
            path,
            f"'{program}' is not on PATH and not a file next to the crew",
            "install it, or give its path",
        )
    yield from _check_argv_placeholders(name, tool)


def resolve_program(program: str, base_dir: FsPath) -> str | None:
    """The executable a command's argv[0] names: mas's own Python, a path, or a PATH lookup."""
    if program in PYTHON_NAMES:
        import sys

        return sys.executable
    if "/" in program or os.sep in program:
        candidate = (base_dir / program).resolve()
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which(program)


def _check_argv_placeholders(name: str, tool: ToolSpec) -> Iterator[Finding]:
    if tool.parameters is None:
        return
    assert tool.command is not None
    for i, arg in enumerate(tool.command):
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(arg) if f is not None}
        except ValueError as exc:
            yield Finding(
                ("tools", name, "command", i),
                f"bad placeholder: {exc}",
                "write {{ and }} for literal braces",
            )
            continue
        for field in sorted(fields - set(tool.parameters)):
            yield Finding(
                ("tools", name, "command", i),
                f"{{{field}}} is not a declared parameter",
                did_you_mean(field, tool.parameters),
            )
