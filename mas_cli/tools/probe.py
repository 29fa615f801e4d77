"""What `mas validate` learns by importing a crew's own tool files, as `mas run` would.

Function tools in files next to the crew (`tools.py:lookup`) are imported: a broken import or a
missing function is a problem located in the crew file, with the file:line where the import
failed. Tools from installed packages (`package.module:fn`) are not imported here. Every tool's
`examples:` are checked against its parameter schema.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from mas_cli.errors import Problem, ToolError
from mas_cli.spec.findings import Finding
from mas_cli.spec.loader import Crew, locate_findings
from mas_cli.spec.models import ToolSpec
from mas_cli.spec.toolchecks import is_file_ref, split_function_ref
from mas_cli.tools.base import argument_problems, schema_from_spec
from mas_cli.tools.function import load_function_tool


def probe_tools(crew: Crew) -> list[Problem]:
    """Import problems and bad examples of the crew's tools, located in the crew file."""
    findings: list[Finding] = []
    modules: dict[str, ModuleType] = {}
    base_dir = crew.base_dir.resolve()
    for name, spec in crew.spec.tools.items():
        try:
            schema = _schema(name, spec, base_dir, modules)
        except ToolError as exc:
            findings.append(_import_finding(name, exc, base_dir))
            continue
        findings += _example_findings(name, spec, schema)
    return locate_findings(crew.path, findings) if findings else []


def _schema(
    name: str, spec: ToolSpec, base_dir: Path, modules: dict[str, ModuleType]
) -> dict[str, Any] | None:
    """The tool's parameter schema; None when it cannot be known without importing a package."""
    parts = split_function_ref(spec.function) if spec.function else None
    if parts and is_file_ref(parts[0]):
        return load_function_tool(name, spec, base_dir, modules).parameters
    return schema_from_spec(spec.parameters) if spec.parameters is not None else None


def _import_finding(name: str, exc: ToolError, base_dir: Path) -> Finding:
    where = _user_line(exc.__cause__, base_dir)
    message = exc.message.removeprefix(f"tools.{name}: ")
    return Finding(
        ("tools", name, "function"), message + (f" at {where}" if where else ""), exc.hint
    )


def _user_line(exc: BaseException | None, base_dir: Path) -> str | None:
    """`tools.py:3`: the last line of the crew's own files where the import failed."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{_short(exc.filename, base_dir)}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__) if exc else []
    mine = [f for f in frames if Path(f.filename).resolve().is_relative_to(base_dir)]
    return f"{_short(mine[-1].filename, base_dir)}:{mine[-1].lineno}" if mine else None


def _short(filename: str, base_dir: Path) -> str:
    path = Path(filename).resolve()
    return str(path.relative_to(base_dir)) if path.is_relative_to(base_dir) else filename


def _example_findings(name: str, spec: ToolSpec, schema: dict[str, Any] | None) -> list[Finding]:
    if schema is None:
        return []
    return [
        Finding(("tools", name, "examples", i), f"{message}", "fix the example or the tool")
        for i, example in enumerate(spec.examples)
        for message in argument_problems(schema, example)
    ]
