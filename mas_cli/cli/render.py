"""Everything the CLI draws: tables and JSON to stdout, progress, warnings and errors to stderr."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mas_cli.errors import MasError, Problem

if TYPE_CHECKING:
    from mas_cli.spec.summary import CrewSummary, Validation

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def json_out(value: Any) -> None:
    """Machine output: plain JSON on stdout, no colours, no wrapping."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def error(exc: MasError) -> None:
    """A user's mistake or a failure we expected: the message, and how to fix it."""
    for line in str(exc).splitlines():
        stderr.print(f"[red]error:[/] {escape(line)}")


def internal_error(exc: BaseException) -> None:
    """A bug in mas: say so, and how to see the traceback."""
    stderr.print(f"[red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}")
    stderr.print("This is a bug in mas. Rerun with MAS_DEBUG=1 for the traceback, and report it.")


def problem(p: Problem, level: str) -> None:
    """One located problem, in the file:line:col form editors jump to."""
    colour = "red" if level == "error" else "yellow"
    stderr.print(f"[{colour}]{level}:[/] {escape(str(p))}")


def validation(report: Validation) -> None:
    """One file's validation: its problems, or its summary and warnings."""
    for p in report.problems:
        problem(p, "error")
    for w in report.warnings:
        problem(w, "warning")
    if not report.ok:
        count = len(report.problems)
        stderr.print(f"[red]✗ {escape(report.path)}: {count} problem{'s' * (count != 1)}[/]")
        return
    assert report.summary is not None
    s = report.summary
    counts = f"{s.process}, {len(s.agents)} agents, {len(s.tasks)} tasks, {len(s.tools)} tools"
    stdout.print(f"[green]✓[/] [bold]{escape(s.name)}[/]  {escape(report.path)}  ({counts})")
    stdout.print(_summary_table(report.summary))


def _summary_table(s: CrewSummary) -> Table:
    outer = Table.grid(padding=(0, 2))
    outer.add_column(style="dim", no_wrap=True)
    outer.add_column()
    outer.add_row("agents", _grid([_agent_row(a) for a in s.agents]))
    outer.add_row("tasks", _grid([_task_row(t) for t in s.tasks]))
    outer.add_row(
        "tools", _grid([[t["name"], t["impl"], t["kind"]] for t in s.tools] or [["none"]])
    )
    outer.add_row("models", _grid([[m["name"], f"{m['provider']}:{m['model']}"] for m in s.models]))
    outer.add_row("limits", _limits_text(s.limits, s.defaulted_limits))
    return outer


def _grid(rows: list[list[str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(max(len(r) for r in rows)):
        grid.add_column()
    for row in rows:
        grid.add_row(*(escape(str(c)) for c in row))
    return grid


def _agent_row(a: dict[str, Any]) -> list[str]:
    tools = ", ".join(a["tools"]) or "-"
    return [a["name"], f"model {a['model']}", f"max_turns {a['max_turns']}", f"tools {tools}"]


def _task_row(t: dict[str, Any]) -> list[str]:
    detail = [f"after {', '.join(t['depends_on'])}"] if t["depends_on"] else []
    detail += ["validated output"] if t["validated"] else []
    detail += [f"writes {', '.join(t['writes'])}"] if t["writes"] else []
    return [t["id"], f"level {t['level']}", f"by {t['agent'] or '(manager)'}", "; ".join(detail)]


def _limits_text(limits: dict[str, Any], defaulted: list[str]) -> str:
    cells = [f"{k} {v:g}" + ("[dim]*[/]" if k in defaulted else "") for k, v in limits.items()]
    return " · ".join(cells) + ("  [dim](* default)[/]" if defaulted else "")
