"""The timeline: one row per task (tasks that ran at once sit one above the other over the same
stretch of time; a delegation's row is nested under its delegator's), model calls on the upper
half of a row and tool calls on the lower, waits drawn before the call that waited, retries and
failures outlined, limit hits marked where they fired, triage findings as bands over the
stretch they are about."""

from __future__ import annotations

from dataclasses import dataclass

from mas_cli.view.read import Call, Mark, Run, Task
from mas_cli.view.svg import cut, esc, num, rect, text, title

WIDTH, PLOT_X, TOP, ROW = 1200, 230, 28, 38
PLOT_W = WIDTH - PLOT_X - 16


@dataclass(frozen=True)
class Band:
    """A triage finding's stretch of the timeline."""

    index: int
    start: float
    end: float
    agents: tuple[str, ...]
    task: str
    label: str


def timeline(run: Run, bands: list[Band]) -> str:
    """The whole timeline as one SVG element."""
    order = row_order(run.tasks)
    rows = {task: i for i, task in enumerate(order)}
    scale = _Scale(max(run.end, 1e-6))
    height = TOP + max(len(order), 1) * ROW + 8
    parts = [_axis(scale, height)]
    parts += [_row(run.tasks[t], rows[t], scale) for t in order]
    parts += [_nest(run.tasks[t], rows, scale) for t in order if run.tasks[t].parent is not None]
    parts += [_band(b, run.tasks, rows, scale, height) for b in bands]
    parts += [_call(c, rows, scale) for c in run.calls if c.task in rows]
    parts += [_mark(m, rows, scale, height) for m in run.marks]
    return (
        f'<svg id="timeline-svg" class="timeline" viewBox="0 0 {WIDTH} {height}"'
        f' width="{WIDTH}" height="{height}" role="img" aria-label="timeline">'
        f"{''.join(parts)}</svg>"
    )


def row_order(tasks: list[Task]) -> list[int]:
    """Tasks in the order drawn: by start, each delegation right under the task that made it."""
    children: dict[int | None, list[int]] = {}
    for task in tasks:
        children.setdefault(task.parent, []).append(task.index)
    order: list[int] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        index = stack.pop()
        order.append(index)
        stack += reversed(children.get(index, []))
    return order


class _Scale:
    def __init__(self, total: float) -> None:
        self.total = total

    def x(self, t: float) -> float:
        return PLOT_X + PLOT_W * min(max(t, 0.0), self.total) / self.total


def _step(total: float) -> float:
    raw = total / 8
    for unit in (
        0.001,
        0.002,
        0.005,
        0.01,
        0.02,
        0.05,
        0.1,
        0.2,
        0.5,
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
    ):
        if unit >= raw:
            return unit
    return 3600 * (raw // 3600 + 1)


def _clock(t: float) -> str:
    if t < 1:
        return f"{t * 1000:.0f} ms"
    return f"{t:.0f} s" if t < 120 else f"{t / 60:.1f} min"


def _axis(scale: _Scale, height: int) -> str:
    step, parts, t = _step(scale.total), [], 0.0
    while t <= scale.total + 1e-9:
        x = scale.x(t)
        parts.append(f'<path class="grid" d="M{num(x)} {TOP - 6}V{height}"/>')
        parts.append(text(x, TOP - 10, _clock(t), "tick", "middle"))
        t += step
    return "".join(parts)


def _row(task: Task, row: int, scale: _Scale) -> str:
    y = TOP + row * ROW
    end = task.end if task.end is not None else scale.total
    label = cut(("  " * task.depth) + ("↳ " if task.depth else "") + task.name, 24)
    tip = f"{task.name} ({task.agent}) {task.status}" + (f": {task.reason}" if task.reason else "")
    return (
        f'<g class="row" data-task="{task.index}">'
        + rect(0, y, WIDTH, ROW, cls=f"lane lane{row % 2}")
        + text(8 + task.depth * 10, y + 16, label, "name")
        + text(8 + task.depth * 10, y + 30, cut(task.agent, 26), "agent")
        + f'<g class="taskbar st-{esc(task.status)}" data-task="{task.index}">{title(tip)}'
        + rect(scale.x(task.start), y + 3, scale.x(end) - scale.x(task.start), ROW - 6, cls="task")
        + "</g></g>"
    )


def _nest(task: Task, rows: dict[int, int], scale: _Scale) -> str:
    assert task.parent is not None
    x = scale.x(task.start)
    top, bottom = TOP + rows[task.parent] * ROW + ROW / 2, TOP + rows[task.index] * ROW + 4
    return f'<path class="nest" d="M{num(x)} {num(top)}V{num(bottom)}"/>'


def _band(band: Band, tasks: list[Task], rows: dict[int, int], scale: _Scale, height: int) -> str:
    hit = [rows[t.index] for t in tasks if t.agent in band.agents or t.name == band.task]
    top = TOP + min(hit) * ROW if hit else TOP
    bottom = TOP + (max(hit) + 1) * ROW if hit else height
    x0, x1 = scale.x(band.start), scale.x(band.end)
    x0, x1 = min(x0, x1 - 4), max(x1, x0 + 4)
    return (
        f'<g class="band" id="band-{band.index}" data-finding="{band.index}">{title(band.label)}'
        + rect(x0, top, x1 - x0, bottom - top, cls="stretch")
        + rect(x0, top, x1 - x0, 3, cls="strip")
        + text(x0 + 2, top + 10, f"F{band.index + 1}", "badge")
        + "</g>"
    )


def _call(call: Call, rows: dict[int, int], scale: _Scale) -> str:
    assert call.task is not None
    y = TOP + rows[call.task] * ROW + (7 if call.kind == "llm" else 21)
    x0, x1 = scale.x(call.start), scale.x(call.end)
    wait = ""
    if call.wait > 0:
        w0 = scale.x(call.start - call.wait)
        wait = rect(w0, y + 3, x0 - w0, 4, cls="wait")
    cls = f"call {call.kind} st-{esc(call.status)}" + (" retry" if call.retry else "")
    cls += " replayed" if call.detail.get("replayed") else ""  # answered from a recording
    tip = f"{call.label} {call.status} {call.end - call.start:.3f} s"
    if call.wait:
        tip += f" after waiting {call.wait:.2f} s"
    return (
        f'<g class="{cls}" data-call="{call.index}" tabindex="0">{title(tip)}{wait}'
        + rect(x0, y, max(x1 - x0, 2.0), 10, cls="bar")
        + "</g>"
    )


def _mark(mark: Mark, rows: dict[int, int], scale: _Scale, height: int) -> str:
    x = scale.x(mark.at)
    row = rows.get(mark.task) if mark.task is not None else None
    top = TOP + row * ROW if row is not None else TOP
    bottom = top + ROW if row is not None else height
    shape = (
        f'<path class="line" d="M{num(x)} {num(top)}V{num(bottom)}"/>'
        f'<path class="flag" d="M{num(x)} {num(top)}l6 -6h-12z"/>'
        if mark.kind == "limit"
        else f'<circle class="dot" cx="{num(x)}" cy="{num(top + 3)}" r="3"/>'
    )
    return f'<g class="mark {esc(mark.kind)}">{title(mark.text)}{shape}</g>'
