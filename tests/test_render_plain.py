"""render/plain.py writes run's lines without rich: the same bytes rich writes to a pipe."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape as rich_escape

from mas_cli.cli.render import plain
from mas_cli.cli.render.base import _Console

# Text as crews, models and tools write it: markup-like brackets, backslashes, controls,
# emoji codes, odd white space, wide characters.
PIECES = st.sampled_from(
    [
        "[",
        "]",
        "[bold]",
        "[/]",
        "[link=x]",
        "\\",
        "\\[",
        ":",
        ":smile:",
        "03:12:45",
        "1:2",
        ":100:",
        ":+1-emoji:",
        "y:",
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "\x1b[31m",
        "\x07",
        "\u202e",
        "\xa0",
        "\u3000",
        "é",
        "日本",
        "🚀",
        "$4,980",
        "a",
        "word",
    ]
)
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=8).map("".join)
TAGS = st.sampled_from(sorted(plain.STYLES))


@st.composite
def markup(draw: st.DrawFn) -> str:
    """Lines as mas builds them: escaped text inside mas's own tags, or raw text."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        text = draw(TEXTS)
        kind = draw(st.sampled_from(["escaped", "styled", "raw"]))
        if kind == "escaped":
            parts.append(plain.escape(text))
        elif kind == "styled":
            parts.append(plain.styled(plain.escape(text), draw(TAGS)))
        else:
            parts.append(text)
    return " ".join(parts)


def _rich(text: str, width: int = 80) -> str | Exception:
    """What mas's stderr console writes for `text` to a stream that is no terminal."""
    out = io.StringIO()
    console = _Console(file=out, highlight=False, soft_wrap=True, width=width)
    try:
        console.print(text)
    except Exception as exc:  # markup rich refuses: plain must hand it over too
        return exc
    return out.getvalue()


@settings(max_examples=800, deadline=None)
@given(markup())
def test_a_line_drawn_without_rich_is_the_line_rich_draws(line: str) -> None:
    drawn = plain.drawn(line)
    if drawn is None:
        return
    assert drawn == _rich(line)
    assert drawn == _rich(line, width=8)  # rich crops white space past the width: none is left


def test_the_lines_handed_to_rich_are_few() -> None:
    lines = [
        "[bold]▶ analyze[/] [dim](analyzer)[/]",
        "  analyze turn 1 gpt-4o-mini ~110→13 tokens 1 ms [dim]· run: 1 call, $0.000024[/]",
        "[green]✓ analyze[/] [green]ok[/]",
        f"run 20261206T1 [red]stopped[/]: {plain.escape('max_turns [5] reached')} · log x",
    ]
    for line in lines:
        assert plain.drawn(line) == _rich(line)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_escape_is_richs(text: str) -> None:
    assert plain.escape(text) == rich_escape(text)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"FORCE_COLOR": "1"},
        {"FORCE_COLOR": ""},
        {"TTY_COMPATIBLE": "1"},
        {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
        {"TTY_COMPATIBLE": "2", "FORCE_COLOR": "1"},
        {"NO_COLOR": "1"},
    ],
)
def test_a_stream_is_plain_exactly_when_rich_sees_no_terminal(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream in (io.StringIO(), Tty()):
        assert plain._plain_stream(stream) is not Console(file=stream).is_terminal


def test_run_lines_in_a_pipe_and_under_force_color(tmp_path: Path) -> None:
    """The same run to a pipe: plain lines without rich; with FORCE_COLOR, rich draws them."""
    crew = str(Path(__file__).parents[1] / "crews" / "fraud-review" / "crew.yaml")
    argv = [sys.executable, "-m", "mas_cli", "run", crew, "--offline", "--home", str(tmp_path)]
    piped = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert piped.returncode == 0, piped.stderr
    assert "\x1b[" not in piped.stderr
    assert "✓ analyze ok" in piped.stderr
    env = {**__import__("os").environ, "FORCE_COLOR": "1"}
    forced = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    assert forced.returncode == 0, forced.stderr
    assert "\x1b[" in forced.stderr


def test_every_emoji_code_rich_knows_is_left_to_rich() -> None:
    from rich._emoji_codes import EMOJI

    for name in EMOJI:
        for code in (f":{name}:", f":{name.upper()}-emoji:", f"a:[bold]:{name}:[/]"):
            assert plain._emoji(code), code
            assert plain.drawn(code) is None


def test_times_and_ratios_are_drawn_without_rich() -> None:
    for line in ("started 12-07 01:46:12 · 3:2 · 10:30:00", "[bold]1:2[/]:3 :: x::y", "1:[/]"):
        assert not plain._emoji(line)
        assert plain.drawn(line) == _rich(line) or plain.drawn(line) is None  # `[/]` closes nothing
    assert plain.drawn("12-07 01:46:12") == "12-07 01:46:12\n"
