"""The charts: cost as horizontal bars (by agent, task and model), input tokens per turn as lines.

Drawn as SVG by our own code rather than a vendored library: two chart shapes, each a few
dozen lines, need no JavaScript to draw (the file renders with scripts off, and a test can
read the chart from the HTML), and a library small enough to vendor would still be the
largest thing in the file while drawing these same rectangles and polylines.
"""

from __future__ import annotations

from decimal import Decimal

from mas_cli.events.spend import Spend
from mas_cli.view.svg import color, cut, esc, num, rect, text, title

BAR_H = 18
LABEL_W = 150
WIDTH = 460
MAX_BARS = 20


def cost_bars(name: str, rows: dict[str, Spend]) -> str:
    """A bar chart of each row's cost (tokens when no row has a price), costliest first."""
    if not rows:
        return f'<p class="empty">No model calls: no cost by {esc(name)}.</p>'
    priced = any(t.known_cost for t in rows.values())

    def value(t: Spend) -> float:
        return float(t.known_cost) if priced else float(t.tokens)

    ranked = sorted(rows.items(), key=lambda kv: -value(kv[1]))
    shown, rest = ranked[:MAX_BARS], ranked[MAX_BARS:]
    top = max((value(t) for _, t in shown), default=0.0) or 1.0
    height = len(shown) * (BAR_H + 4) + 4
    parts = [_bar(i, label, t, value(t) / top, priced) for i, (label, t) in enumerate(shown)]
    more = f'<p class="note">and {len(rest)} more</p>' if rest else ""
    unit = "cost" if priced else "tokens (no prices)"
    return (
        f'<svg class="chart bars" data-chart="{esc(name)}" viewBox="0 0 {WIDTH} {height}"'
        f' role="img" aria-label="{esc(unit)} by {esc(name)}">{"".join(parts)}</svg>{more}'
    )


def _bar(i: int, label: str, tally: Spend, share: float, priced: bool) -> str:
    y = 4 + i * (BAR_H + 4)
    span = WIDTH - LABEL_W - 90
    amount = _money(tally.cost) if priced else f"{tally.tokens:,} tok"
    tip = f"{label}: {amount} · {tally.llm_calls} calls · {tally.tokens:,} tokens"
    return (
        f'<g class="bar">{title(tip)}'
        + text(LABEL_W - 6, y + 13, cut(label, 22), "label", "end")
        + rect(LABEL_W, y, max(share * span, 1.0), BAR_H, cls="fill", extra=f' fill="{color(i)}"')
        + text(LABEL_W + share * span + 4, y + 13, amount, "value")
        + "</g>"
    )


def _money(cost: Decimal | None) -> str:
    return "unpriced" if cost is None else f"${cost:.6f}"


LINE_W, LINE_H, PAD = 460, 200, 40
MAX_POINTS = 400


def token_lines(turns: dict[str, list[int]]) -> str:
    """Input tokens of each model call per agent, in order: a rising line is a growing history."""
    if not turns:
        return '<p class="empty">No model calls.</p>'
    longest = max(len(v) for v in turns.values())
    top = max(max(v) for v in turns.values() if v) or 1
    lines, legend = [], []
    for i, (agent, ys) in enumerate(sorted(turns.items())):
        lines.append(_line(i, agent, _thin(ys), longest, top))
        legend.append(
            text(PAD + (i % 4) * 105, LINE_H + 30 + (i // 4) * 14, cut(agent, 14), "legend")
        )
        legend.append(
            rect(
                PAD + (i % 4) * 105 - 10,
                LINE_H + 22 + (i // 4) * 14,
                7,
                7,
                cls="key",
                extra=f' fill="{color(i)}"',
            )
        )
    rows = (len(turns) + 3) // 4
    height = LINE_H + 24 + rows * 14
    axes = (
        f'<path class="axis" d="M{PAD} {PAD / 2}V{LINE_H}H{LINE_W - 10}"/>'
        + text(PAD - 4, PAD / 2 + 4, f"{top:,}", "tick", "end")
        + text(PAD - 4, LINE_H, "0", "tick", "end")
        + text(LINE_W - 10, LINE_H + 14, f"turn {longest}", "tick", "end")
    )
    return (
        f'<svg class="chart lines" data-chart="tokens" viewBox="0 0 {LINE_W} {height}"'
        f' role="img" aria-label="input tokens per turn per agent">'
        f"{axes}{''.join(lines)}{''.join(legend)}</svg>"
    )


def _thin(ys: list[int]) -> list[tuple[int, int]]:
    """At most MAX_POINTS points, keeping the first and last (a long run stays small)."""
    step = max(1, -(-len(ys) // MAX_POINTS))
    points = list(enumerate(ys))[::step]
    if points[-1][0] != len(ys) - 1:
        points.append((len(ys) - 1, ys[-1]))
    return points


def _line(i: int, agent: str, points: list[tuple[int, int]], longest: int, top: int) -> str:
    span_x, span_y = LINE_W - 10 - PAD, LINE_H - PAD / 2

    def xy(turn: int, y: int) -> str:
        return f"{num(PAD + span_x * turn / max(longest - 1, 1))},{num(LINE_H - span_y * y / top)}"

    coords = " ".join(xy(t, y) for t, y in points)
    last = points[-1]
    end = xy(*last).split(",")  # a dot at the last turn: an agent of one turn still shows
    tip = f"{agent}: {len(points)} turns shown, last {last[1]:,} input tokens"
    return (
        f'<g class="series" data-agent="{esc(agent)}">{title(tip)}'
        f'<polyline points="{coords}" fill="none" stroke="{color(i)}" stroke-width="2"/>'
        f'<circle cx="{end[0]}" cy="{end[1]}" r="3" fill="{color(i)}"/></g>'
    )
