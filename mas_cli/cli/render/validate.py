"""`mas validate`: a crew's problems, or its summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from mas_cli.cli.render.base import problem, stderr, stdout
from mas_cli.words import figure, plural

if TYPE_CHECKING:
    from mas_cli.spec.summary import CrewSummary, Validation


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
    sizes = [plural(len(s.agents), "agent"), plural(len(s.tasks), "task")]
    counts = ", ".join([s.process, *sizes, plural(len(s.tools), "tool")])
    stdout.print(f"[green]✓[/] [bold]{escape(s.name)}[/]  {escape(report.path)}  ({counts})")
    stdout.print(_summary_table(report.summary))


def _summary_table(s: CrewSummary) -> Table:
    outer = Table.grid(padding=(0, 2))
    outer.add_column(style="dim", no_wrap=True)
    outer.add_column()
    if s.inputs:
        outer.add_row("inputs", _grid([_input_row(i) for i in s.inputs]))
    outer.add_row("agents", _grid([_agent_row(a) for a in s.agents]))
    outer.add_row("tasks", _grid([_task_row(t) for t in s.tasks]))
    outer.add_row("tools", _grid([_tool_row(t) for t in s.tools] or [["none"]]))
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


def _input_row(i: dict[str, Any]) -> list[str]:
    if i["required"]:
        return [i["name"], "required: give --input " + i["name"] + "=..."]
    if i["default"] is None:
        return [i["name"], "optional (empty when not given)"]
    shown = repr(i["default"])
    return [i["name"], "default " + (shown if len(shown) <= 40 else shown[:39] + "…")]


def _agent_row(a: dict[str, Any]) -> list[str]:
    tools = ", ".join(a["tools"]) or "-"
    return [a["name"], f"model {a['model']}", f"max_turns {a['max_turns']}", f"tools {tools}"]


def _task_row(t: dict[str, Any]) -> list[str]:
    detail = [f"after {', '.join(t['depends_on'])}"] if t["depends_on"] else []
    detail += ["validated output"] if t["validated"] else []
    detail += [f"writes {', '.join(t['writes'])}"] if t["writes"] else []
    return [t["id"], f"level {t['level']}", f"by {t['agent'] or '(manager)'}", "; ".join(detail)]


def _limits_text(limits: dict[str, Any], defaulted: list[str]) -> str:
    cells = [
        f"{k} {figure(v)}" + ("[dim]*[/]" if k in defaulted else "") for k, v in limits.items()
    ]
    return " · ".join(cells) + ("  [dim](* default)[/]" if defaulted else "")


def _tool_row(tool: dict[str, Any]) -> list[str]:
    """name, implementation, kind; an MCP server's row also lists the tools it offers."""
    offers = tool.get("offers")
    listed = [f"offers {', '.join(offers) or 'no tools'}"] if offers is not None else []
    return [tool["name"], tool["impl"], tool["kind"], *listed]
