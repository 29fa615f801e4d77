"""`mas validate`: a crew's problems, or its summary.

The summary is a grid of sections (inputs, agents, tasks, tools, models: a grid each; the limits:
words wrapped to the width). In a terminal rich draws it; to a stream that is no terminal it is
laid out here with the bytes rich writes (render/grid.py), whenever no cell of a section has to
be wrapped or cut, so `mas validate | ...` loads no rich: a sixth of its instructions.
tests/test_render_validate.py holds the two to the same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mas_cli.cli.render.fit import print_line, write_out
from mas_cli.cli.render.grid import grid_lines, wrapped_lines
from mas_cli.cli.render.messages import problem
from mas_cli.cli.render.plain import eprint, escape, plain_stdout
from mas_cli.cli.render.safe import safe
from mas_cli.words import figure, plural

if TYPE_CHECKING:
    from rich.table import Table

    from mas_cli.spec.summary import CrewSummary, Validation

Section = tuple[str, list[list[str]] | str]
"""A section's name, and its rows of cells (markup) or its text (markup, wrapped)."""


def validation(report: Validation) -> None:
    """One file's validation: its problems, or its summary and warnings."""
    for p in report.problems:
        problem(p, "error")
    for w in report.warnings:
        problem(w, "warning")
    if not report.ok:
        eprint(f"[red]✗ {escape(report.path)}: {plural(len(report.problems), 'problem')}[/]")
        return
    assert report.summary is not None
    s = report.summary
    sizes = [plural(len(s.agents), "agent"), plural(len(s.tasks), "task")]
    counts = ", ".join([s.process, *sizes, plural(len(s.tools), "tool")])
    print_line(f"[green]✓[/] [bold]{escape(s.name)}[/]  {escape(report.path)}  ({counts})")
    _print_summary(sections(s))


def sections(s: CrewSummary) -> list[Section]:
    """The summary's sections, in the order they are shown."""
    rows: list[Section] = [("inputs", [_input_row(i) for i in s.inputs])] if s.inputs else []
    return [
        *rows,
        ("agents", [_agent_row(a) for a in s.agents]),
        ("tasks", [_task_row(t) for t in s.tasks]),
        ("tools", [_tool_row(t) for t in s.tools] or [["none"]]),
        ("models", [_model_row(m) for m in s.models]),
        ("limits", _limits_text(s.limits, s.defaulted_limits)),
    ]


def summary_lines(parts: list[Section], width: int) -> str | None:
    """What rich writes for the sections' grid on a stream `width` wide that is no terminal;
    None when a section's cell would be wrapped or cut (a long word, a narrow width)."""
    left = max(len(name) for name, _ in parts)
    room = width - left - 2
    if room < 1:
        return None
    out = []
    for name, body in parts:
        lines = wrapped_lines(body, room) if isinstance(body, str) else grid_lines(body, room)
        if lines is None:
            return None
        heads = [name.ljust(left), *[" " * left] * (len(lines) - 1)]
        out += [f"{head}  {line}".rstrip(" \t") for head, line in zip(heads, lines, strict=True)]
    return "\n".join(out) + "\n"


def _print_summary(parts: list[Section]) -> None:
    at = plain_stdout()
    text = summary_lines(parts, at[0]) if at else None
    if text is not None:
        write_out(text)
        return
    from mas_cli.cli.render.base import stdout

    stdout.print(summary_table(parts))


def summary_table(parts: list[Section]) -> Table:
    """The sections as rich's grid of grids."""
    from rich.table import Table

    outer = Table.grid(padding=(0, 2))
    outer.add_column(style="dim", no_wrap=True)
    outer.add_column()
    for name, body in parts:
        outer.add_row(name, safe(body) if isinstance(body, str) else _grid(body))
    return outer


def _grid(rows: list[list[str]]) -> Table:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    for _ in range(max(len(r) for r in rows)):
        grid.add_column()
    for row in rows:
        # escaped before rich measures the cell (render/fit.py's `_escaped` says why)
        grid.add_row(*map(safe, row))
    return grid


def _input_row(i: dict[str, Any]) -> list[str]:
    name = escape(i["name"])
    if i["required"]:
        return [name, "required: give --input " + name + "=..."]
    if i["default"] is None:
        return [name, "optional (empty when not given)"]
    shown = repr(i["default"])
    return [name, escape("default " + (shown if len(shown) <= 40 else shown[:39] + "…"))]


def _agent_row(a: dict[str, Any]) -> list[str]:
    tools = ", ".join(a["tools"]) or "-"
    cells = [a["name"], f"model {a['model']}", f"max_turns {a['max_turns']}", f"tools {tools}"]
    return [escape(c) for c in cells]


def _task_row(t: dict[str, Any]) -> list[str]:
    detail = [f"after {', '.join(t['depends_on'])}"] if t["depends_on"] else []
    detail += ["validated output"] if t["validated"] else []
    detail += [f"writes {', '.join(t['writes'])}"] if t["writes"] else []
    cells = [t["id"], f"level {t['level']}", f"by {t['agent'] or '(manager)'}", "; ".join(detail)]
    return [escape(str(c)) for c in cells]


def _model_row(m: dict[str, Any]) -> list[str]:
    return [escape(m["name"]), escape(f"{m['provider']}:{m['model']}")]


def _limits_text(limits: dict[str, Any], defaulted: list[str]) -> str:
    cells = [
        f"{k} {figure(v)}" + ("[dim]*[/]" if k in defaulted else "") for k, v in limits.items()
    ]
    return " · ".join(cells) + ("  [dim](* default)[/]" if defaulted else "")


def _tool_row(tool: dict[str, Any]) -> list[str]:
    """name, implementation, kind; an MCP server's row also lists the tools it offers."""
    offers = tool.get("offers")
    listed = [f"offers {', '.join(offers) or 'no tools'}"] if offers is not None else []
    return [escape(c) for c in [tool["name"], tool["impl"], tool["kind"], *listed]]
