"""`mas validate`'s summary laid out without rich (render/validate.py, render/grid.py): the bytes
rich writes to a stream that is no terminal, or None (and rich draws it). Never different."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_render_grid import _natural, cells

from mas_cli.cli.render import validate as rv
from mas_cli.cli.render.base import _Console
from mas_cli.cli.render.plain import PIPE_WIDTH
from mas_cli.spec.summary import check_file

CREWS = sorted((Path(__file__).resolve().parent.parent / "crews").glob("*/*.yaml"))


def _rich(renderable: object, width: int) -> str | Exception:
    """What render.stdout writes for it in a pipe `width` wide."""
    console = _Console(file=io.StringIO(), highlight=False, soft_wrap=True, width=width)
    try:
        console.print(renderable)
    except Exception as exc:  # markup rich refuses: the plain layout must refuse it too
        return exc
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("crew", CREWS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_example_crews_summary_is_richs_at_every_width(crew: Path) -> None:
    report = check_file(crew)
    assert report.summary is not None, report.problems
    parts = rv.sections(report.summary)
    laid_out = 0
    for width in range(10, 260, 3):
        plain = rv.summary_lines(parts, width)
        if plain is not None:
            laid_out += 1
            assert plain == _rich(rv.summary_table(parts), width), width
    assert rv.summary_lines(parts, PIPE_WIDTH) is not None  # a pipe: no rich
    assert laid_out > 30


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(cells(), min_size=1, max_size=4), min_size=1, max_size=4), st.integers(-2, 3)
)
def test_a_section_laid_out_without_rich_is_the_section_rich_draws(
    rows: list[list[str]], slack: int
) -> None:
    parts: list[rv.Section] = [("agents", rows)]
    width = max(1, _natural(_rich(rv.summary_table(parts), 1000)) + slack)
    plain = rv.summary_lines(parts, width)
    if plain is not None:
        assert plain == _rich(rv.summary_table(parts), width)


@settings(max_examples=400, deadline=None)
@given(st.lists(cells(), min_size=1, max_size=12).map(" · ".join), st.integers(1, 60))
def test_a_text_wrapped_without_rich_is_the_text_rich_wraps(markup: str, width: int) -> None:
    parts: list[rv.Section] = [("limits", markup)]
    plain = rv.summary_lines(parts, width)
    if plain is not None:
        assert plain == _rich(rv.summary_table(parts), width)
