"""Static checks of tool declarations: a function must resolve, a command must be runnable.

Nothing here imports or runs the user's code: function files are read with `ast`, and a
`package.module` is located without importing it (see `find_module`). A standard-library
callable that runs commands or code (`subprocess:getoutput`, `os:system`, `builtins:eval`)
is refused as a tool.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import string
from collections.abc import Iterator
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path as FsPath

from mas_cli.spec.findings import Finding, did_you_mean
from mas_cli.spec.mcp import McpServerSpec, check_servers, templated, variables
from mas_cli.spec.models import CrewSpec, ToolSpec
from mas_cli.spec.providers import key_variables as provider_keys
from mas_cli.spec.yamlpos import Path

PYTHON_NAMES = ("python", "python3")


def check_tools(crew: CrewSpec, base_dir: FsPath) -> Iterator[Finding]:
    """Every tool's function or command must resolve from the crew file's folder."""
    for name, tool in crew.tools.items():
        if tool.function is not None:
            yield from _check_function(name, tool.function, base_dir)
        elif tool.command is not None:
            yield from _check_command(name, tool, base_dir)
        elif tool.mcp is not None and tool.mcp.command is not None:
            yield from _check_program(("tools", name, "mcp", "command", 0), tool.mcp, base_dir)
        if tool.mcp is not None:
            yield from _check_server_keys(name, tool, key_variables(crew))
        yield from _check_env(name, tool, key_variables(crew))
    yield from check_servers(crew)


def key_variables(crew: CrewSpec) -> set[str]:
    """The variables holding a key some model of the crew may send, and the providers' own."""
    named = {m.api_key_env for m in crew.models.values() if m.api_key_env}
    return {*provider_keys(), *named}


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
        danger = exec_like(target, func)
        if danger:
            yield Finding(path, f"'{ref}' {danger}", EXEC_LIKE_HINT)
            return
        spec = find_module(target)
        if spec is None:
            yield Finding(
                path,
                f"module '{target}' cannot be found",
                "install it, or use a file path: tools.py:func",
            )
            return
        if spec.origin is None or not spec.origin.endswith(".py"):
            return
        source = FsPath(spec.origin)
    yield from _check_defined(path, source, target, func)


def find_module(dotted: str) -> ModuleSpec | None:
    """Where a module's file is, found without importing it or any package above it.

    `importlib.util.find_spec("pkg.mod")` imports `pkg` (running its `__init__.py`): here only
    the top-level name goes through the import system's finders (which run no module code),
    and each level below is looked up in its parent's folders.
    """
    top, *rest = dotted.split(".")
    try:
        spec = importlib.util.find_spec(top)
        for i in range(len(rest)):
            if spec is None or spec.submodule_search_locations is None:
                return None
            name = ".".join([top, *rest[: i + 1]])
            spec = PathFinder.find_spec(name, list(spec.submodule_search_locations))
    except (ImportError, ValueError):
        return None
    return spec


EXEC_LIKE_MODULES = {"subprocess", "pty", "runpy", "code", "codeop", "ctypes", "pickle",
                     "marshal", "shelve", "multiprocessing", "pdb", "webbrowser"}  # fmt: skip
FILE_REMOVERS = ("remove", "unlink", "rmdir", "removedirs", "truncate", "replace", "rename")
"""os functions that delete a file or its contents (a rename or replace over one, too)."""
EXEC_LIKE_NAMES = {
    "os": (
        "system",
        "popen",
        "exec",
        "spawn",
        "posix_spawn",
        "fork",
        "startfile",
        "kill",
        *FILE_REMOVERS,
    ),
    "posix": ("system", "popen", "exec", "spawn", "posix_spawn", "fork", "kill", *FILE_REMOVERS),
    "builtins": ("eval", "exec", "compile", "__import__", "breakpoint", "open"),
    "importlib": ("import_module", "__import__", "reload"),
    "shutil": ("rmtree", "move"),
}
EXEC_LIKE_HINT = (
    "wrap what the agent needs in a function of your own (tools.py:name, typed parameters), "
    "or use a command tool, whose argv never goes through a shell"
)


def exec_like(module: str, func: str) -> str | None:
    """Why a standard-library callable must not be a tool, or None: the model would choose
    its arguments, and these run commands or code, or delete files."""
    if module.split(".", maxsplit=1)[0] in EXEC_LIKE_MODULES:
        return "runs commands or code chosen by the model (module " + module + ")"
    if func.startswith(EXEC_LIKE_NAMES.get(module, ())):
        return "runs commands or code chosen by the model, or deletes files"
    return None


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
    imported = {
        alias.asname or alias.name: (node.module or "", alias.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    defined += list(imported)
    danger = exec_like(*imported[func]) if func in imported else None
    if danger:  # `from os import system` in tools.py, named as the tool
        yield Finding(path, f"{target}:{func} is {'.'.join(imported[func])}, which {danger}",
                      EXEC_LIKE_HINT)  # fmt: skip
    elif func not in defined:
        yield Finding(path, f"{target} has no function '{func}'", did_you_mean(func, defined))


def _check_command(name: str, tool: ToolSpec, base_dir: FsPath) -> Iterator[Finding]:
    assert tool.command is not None
    program = tool.command[0]
    path = ("tools", name, "command", 0)
    if "{" in program:
        yield Finding(path, "the program itself cannot be a placeholder", "name a fixed executable")
    elif resolve_program(program, base_dir) is None:
        yield Finding(path, *unfound_program(program, base_dir))
    yield from _check_argv_placeholders(name, tool)


def _check_program(path: Path, server: McpServerSpec, base_dir: FsPath) -> Iterator[Finding]:
    """An MCP server's program must be found, as a command tool's is."""
    assert server.command is not None
    if resolve_program(server.command[0], base_dir) is None:
        yield Finding(path, *unfound_program(server.command[0], base_dir))


def _check_server_keys(name: str, tool: ToolSpec, keys: set[str]) -> Iterator[Finding]:
    """A model's key never goes to an MCP server either."""
    assert tool.mcp is not None
    for path, text in templated(tool.mcp):
        for var in variables(text):
            if var in keys:
                yield Finding(
                    ("tools", name, "mcp", *path),
                    f"{var} holds a model's key and is never passed to a tool",
                    "give the server its own credential in another variable",
                )


def resolve_program(program: str, base_dir: FsPath) -> str | None:
    """The executable a command's argv[0] names: mas's own Python, a path, or a PATH lookup."""
    if program in PYTHON_NAMES:
        import sys

        return sys.executable
    if "/" in program or os.sep in program:
        candidate = (base_dir / program).resolve()
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which(program)


def unfound_program(program: str, base_dir: FsPath) -> tuple[str, str]:
    """Why resolve_program found no executable, and the fix: a file that may not be run (no
    `x` bit) or a folder is named as such, not as missing."""
    candidate = base_dir / program
    if ("/" in program or os.sep in program) and candidate.is_dir():
        return f"'{program}' is a folder, not a program", "name the program inside it"
    if ("/" in program or os.sep in program) and candidate.is_file():
        return (
            f"'{program}' is a file but not executable",
            f"chmod +x it, or name its interpreter first: [sh, {program}]",
        )
    return (
        f"'{program}' is not on PATH and not a file next to the crew",
        "install it, or give its path",
    )


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
