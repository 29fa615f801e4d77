"""render/grid.py lays tables and trees out without rich: the same bytes rich writes to a stream
that is no terminal, or None (and rich draws them). Never different."""

from __future__ import annotations

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from mas_cli.cli.render import fit, grid
from mas_cli.cli.render.base import _Console
from mas_cli.cli.render.plain import STYLES, escape, styled

# Cells as mas fills them: names from logs (markup-like brackets, backslashes, controls, odd
# white space, wide characters), figures, and mas's own tags; now and then something only rich
# can measure (a tab, a line break, an emoji code or emoji, a combining accent, a tag it alone
# knows), which must hand the whole table to rich.
COMMON = st.sampled_from(
    ["a", "run", "fraud-review", "1,249", "$0.002065", "≥$0.01", "→", "·", "✓", "█", "-", " ",
     "  ", "[", "]", "\\", "\\[", "[bold]", "[/]", ":", "03:12:45", "\r", "\x1b[31m", "\x07",
     "\u202e", "\xa0", "é", "日本", "カ", "한"]
)  # fmt: skip
RARE = st.one_of(
    st.sampled_from(["\t", "\n", ":smile:", "[link=x]", "\u3000", "\u2028", "🚀", "\u200d",
                     "\ufe0f", "e\u0301"]),
    st.text(max_size=3),
)  # fmt: skip
PIECES = st.sampled_from([COMMON] * 15 + [RARE]).flatmap(lambda pieces: pieces)
TEXTS = st.lists(PIECES, max_size=6).map("".join)


@st.composite
def cells(draw: st.DrawFn) -> str:
    """Escaped text in one of mas's tags, escaped text, or raw text."""
    text = draw(TEXTS)
    kind = draw(st.sampled_from(["escaped"] * 3 + ["styled"] * 3 + ["raw"]))
    if kind == "escaped":
        return escape(text)
    if kind == "styled":
        return styled(escape(text), draw(st.sampled_from(sorted(STYLES))))
    return text


@st.composite
def grids(draw: st.DrawFn) -> grid.Grid:
    table = grid.Grid(header_style=draw(st.sampled_from(["bold", None, "table.header"])))
    for _ in range(draw(st.integers(1, 4))):
        justify = draw(st.sampled_from(["left", "right"]))
        table.add_column(
            draw(cells()), justify=justify, no_wrap=draw(st.booleans()), style=draw(st.none())
        )
    for _ in range(draw(st.integers(0, 4))):
        row = [draw(cells()) for _ in table.columns]
        table.add_row(*row, style=draw(st.sampled_from([None, "bold", "dim"])))
    return table


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> grid.Branch:
    root = grid.Branch(draw(cells()))
    if depth < 3:
        root.children = draw(st.lists(trees(depth + 1), max_size=3))
    return root


class _Ascii(io.StringIO):
    encoding = "ascii"  # type: ignore[assignment]


def _console(width: int, ascii_only: bool = False) -> _Console:
    """Like render.stdout in a pipe, `width` wide."""
    out = _Ascii() if ascii_only else io.StringIO()
    return _Console(file=out, highlight=False, soft_wrap=True, width=width)


def _rich_table(table: grid.Grid, width: int) -> str | Exception:
    console = _console(width)
    try:
        fit.print_rich(console, fit.rich_table(table))
    except Exception as exc:  # markup rich refuses: the plain layout must refuse it too
        return exc
    return console.file.getvalue()  # type: ignore[attr-defined]


def _rich_tree(root: grid.Branch, width: int, ascii_only: bool = False) -> str | Exception:
    console = _console(width, ascii_only)
    try:
        console.print(fit.rich_tree(root), soft_wrap=False)
    except Exception as exc:
        return exc
    return console.file.getvalue()  # type: ignore[attr-defined]


def _natural(drawn: str | Exception) -> int:
    if isinstance(drawn, Exception):
        return 40
    return max((cell_len(line) for line in drawn.splitlines()), default=1)


@settings(max_examples=500, deadline=None)
@given(grids(), st.integers(-2, 3))
@example(grid.Grid(), 0)  # no column at all
def test_a_table_laid_out_without_rich_is_the_table_rich_draws(
    table: grid.Grid, slack: int
) -> None:
    width = max(1, _natural(_rich_table(table, 1000)) + slack)  # near the edge: fits or not
    plain = grid.table_lines(table, width)
    if plain is not None:
        assert plain == _rich_table(table, width)


@settings(max_examples=400, deadline=None)
@given(trees(), st.integers(-2, 3), st.booleans())
def test_a_tree_laid_out_without_rich_is_the_tree_rich_draws(
    root: grid.Branch, slack: int, ascii_only: bool
) -> None:
    width = max(1, _natural(_rich_tree(root, 1000)) + slack)
    plain = grid.tree_lines(root, width, ascii_only=ascii_only)
    if plain is not None:
        assert plain == _rich_tree(root, width, ascii_only)


def test_the_widths_known_here_are_richs() -> None:
    known = [*grid._NARROW, *(chr(c) for a, b in grid._WIDE_RANGES for c in range(a, b + 1))]
    assert all(grid.width_of(char) == cell_len(char) for char in known)
    assert grid.width_of("日本 run") == cell_len("日本 run") == 8
    assert grid.width_of("🚀") is None  # emoji widths vary with rich's Unicode version: rich's


def test_what_mas_prints_is_laid_out_without_rich() -> None:
    """The tables and trees of the read-only commands take the plain path, rich's bytes."""
    table = grid.Grid(header_style="bold")
    for name, justify in (("run", "left"), ("crew", "left"), ("cost", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "crew")  # type: ignore[arg-type]
    table.add_row("20261206T074022321-a66709", "fraud-review", "$0.0413")
    table.add_row("20261206T074022321-a66710", "日本 [bold]crew[/]", "[green]≥$12.50[/]")
    table.add_row("20261206T074022321-a66711", escape("a\x1b[2J[b]\\"), "-", style="bold")
    assert grid.table_lines(table, 160) == _rich_table(table, 160)
    assert grid.table_lines(table, 20) is None  # folded by rich

    root = grid.Branch("[bold]fraud-review[/] run 2026 [green]ok[/]  1.20s · 3 model calls")
    task = root.add("[bold]analyze[/] (analyzer) [green]ok[/]  1 turn 0.01s")
    task.add("turn 1").add("model gpt-4o-mini 110→13 tokens $0.000024 1 ms")
    root.add("[bold]score[/] (scorer) [red]failed[/]: max_turns [5]")
    for ascii_only in (False, True):
        assert grid.tree_lines(root, 160, ascii_only=ascii_only) == _rich_tree(
            root, 160, ascii_only
        )
    assert grid.tree_lines(root, 30) is None  # a label wraps: rich's to draw


def _rich_line(markup: str, width: int) -> str | Exception:
    console = _console(width)
    try:
        console.print(markup, soft_wrap=False)
    except Exception as exc:
        return exc
    return console.file.getvalue()  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(st.lists(cells(), min_size=1, max_size=4).map(" ".join), st.integers(-2, 3))
def test_a_line_wrapped_at_the_width_is_written_plainly_only_when_it_fits(
    markup: str, slack: int
) -> None:
    """`print_line(markup, wrap=True)`, rich's `print(markup, soft_wrap=False)`: a title, a note."""
    width = max(1, _natural(_rich_line(markup, 1000)) + slack)
    if fit._fits(markup, width) and (plain := fit.drawn(markup)) is not None:
        assert plain == _rich_line(markup, width)
