"""Lines of markup written to a pipe or a file without loading rich.

`mas run` prints a few lines of rich markup on stderr (its progress, its closing line). In a
terminal rich draws them; to a pipe or a file rich draws no colour, so the text alone is what
it writes, and rich's import is a tenth of a run's start-up. `eprint` writes exactly what
`render.stderr.print(markup)` would (the same characters, control codes stripped and made
visible alike, trailing blanks dropped) when the stream is no terminal, and hands the line to
rich otherwise, or whenever the markup holds something only rich can tell (a tab, an emoji
code, a tag it does not know, a line ending in unusual white space).
`tests/test_render_plain.py` holds the two to the same bytes.
"""

from __future__ import annotations

import os
import re
import sys
from decimal import Decimal
from typing import Any

from mas_cli.cli.render.safe import safe
from mas_cli.events.jsonsafe import dumps

STATUS_STYLE = {
    "ok": "green",
    "failed": "red",
    "stopped": "red",
    "interrupted": "yellow",
    "skipped": "dim",
    "cancelled": "yellow",
}
PIPE_WIDTH = 160  # tables and trees written to a file or a pipe are not squeezed to 80 columns
STYLES = frozenset({"bold", "dim", "red", "yellow", "green", "cyan", "bold red", "bold green"})
"""The styles mas's own markup opens; any other tag goes to rich."""

_RICH_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")  # rich.markup.RE_TAGS
_ESCAPE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")  # what rich.markup.escape escapes
_BETWEEN_COLONS = re.compile(r"(?<=:)[^:\s]*(?=:)")  # where rich may read an emoji code
_EMOJI_WITHOUT_LETTERS = frozenset({"+1", "-1", "100", "1234", "__1"})  # the rest have a letter
_STRIPPED = dict.fromkeys((7, 8, 11, 12, 13))  # rich.control.STRIP_CONTROL_CODES
_ODD_END = re.compile(r"[^\S \n]\s*$", re.MULTILINE)  # trailing white space rich may crop
_TRAILING_BLANKS = re.compile(r"[ \t]+(?=\n)")


def escape(markup: str) -> str:
    """rich.markup.escape: text that is not read as markup."""

    def doubled(match: re.Match[str]) -> str:
        backslashes, text = match.groups()
        return f"{backslashes}{backslashes}\\{text}"

    markup = _ESCAPE.sub(doubled, markup)
    if markup.endswith("\\") and not markup.endswith("\\\\"):
        return markup + "\\"
    return markup


CENT = Decimal("0.01")
HUGE_USD = Decimal(10**12)


def usd(value: Decimal | None, *, signed: bool = False, places: int | None = None) -> str:
    """$0.002065, $0.0413, $12.50: enough digits to see small costs; None is `unknown`.

    `places` fixes the decimals, so that every amount of one table column reads alike.
    """
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else "-" * (value < 0)
    size = abs(value)
    if size >= HUGE_USD:  # a bogus figure from a log: quantizing it would overflow Decimal
        return f"{sign}${size:.3E}"
    return f"{sign}${size:,.{usd_places(size) if places is None else places}f}"


def usd_places(size: Decimal) -> int:
    """The decimals one amount needs: cents from a dollar up, else 4, else 6."""
    size = abs(size)
    return 2 if size >= 1 or size == size.quantize(CENT) else 4 if size >= CENT else 6


def styled(text: str, style: str) -> str:
    """Rich markup for `text` in `style`; plain text when there is no style."""
    return f"[{style}]{text}[/]" if style else text


def json_out(value: Any) -> None:
    """Machine output: plain JSON on stdout, no colours, no wrapping."""
    sys.stdout.write(dumps(value, indent=2, default=str) + "\n")


def eprint(markup: str) -> None:
    """Print one line of markup on stderr, as render.stderr.print would."""
    text = drawn(markup) if _plain_stream(sys.stderr) else None
    if text is None:
        from mas_cli.cli.render.base import stderr

        stderr.print(markup)
        return
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BrokenPipeError:  # stderr's reader left (`2>&1 | head -1`): the command goes on
        from mas_cli.cli.boundary import stderr_closed

        stderr_closed()


def drawn(markup: str) -> str | None:
    """What rich writes for `markup` to a stream that is no terminal; None when it takes rich."""
    text = _read(markup)
    if text is None or _ODD_END.search(text):
        return None
    return _TRAILING_BLANKS.sub("", safe(text) + "\n")


def label_text(markup: str) -> str | None:
    """The text rich shows for a line or a tree label of markup (control codes it strips gone,
    the others shown as escapes); None when it takes rich to tell."""
    text = _read(markup)
    return None if text is None else safe(text)


def cell_text(markup: str) -> str | None:
    """The text rich shows for a table cell, which render/fit.py makes safe before rich reads
    it as markup; None when it takes rich to tell."""
    markup = safe(markup)
    if "\t" in markup or _emoji(markup):
        return None
    return _text(markup) if "[" in markup else markup


def _read(markup: str) -> str | None:
    if "\t" in markup or _emoji(markup):
        return None
    text = _text(markup) if "[" in markup else markup
    return None if text is None else text.translate(_STRIPPED)


def _emoji(markup: str) -> bool:
    """Whether rich might read an emoji code (`:smile:`, `:100-emoji:`) in the markup: a name
    between two colons with a letter in it, or one of the few without. Times (`03:12:45`) and
    ratios are not, so their lines need no rich."""
    for name in _BETWEEN_COLONS.findall(markup):
        if name.removesuffix("-emoji").removesuffix("-text") in _EMOJI_WITHOUT_LETTERS:
            return True
        if any(char.isalpha() for char in name):
            return True
    return False


def _text(markup: str) -> str | None:
    """The text of rich markup, tags dropped and escapes undone, as rich.markup.render reads it;
    None for a tag other than opening one of STYLES or the implicit close `[/]`."""
    parts: list[str] = []
    position = 0
    depth = 0
    for match in _RICH_TAG.finditer(markup):
        whole, escapes, tag = match.groups()
        start, end = match.span()
        if start > position:
            parts.append(markup[position:start].replace("\\[", "["))
        position = end
        backslashes, escaped = divmod(len(escapes), 2)
        parts.append("\\" * backslashes)
        if escaped:
            parts.append(whole[len(escapes) :])
        elif tag in STYLES:
            depth += 1
        elif tag == "/" and depth > 0:
            depth -= 1
        else:
            return None
    parts.append(markup[position:].replace("\\[", "["))
    return "".join(parts)


def plain_stdout() -> tuple[int, bool] | None:
    """When stdout is no terminal, the width rich draws it at (render/base.py's `_Stdout.size`:
    `COLUMNS`, else PIPE_WIDTH) and whether it draws ASCII guides (the stream's encoding is
    not a utf one); None for a terminal."""
    if not _plain_stream(sys.stdout):
        return None
    encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower()
    return pipe_width(), not encoding.startswith("utf")


def pipe_width() -> int:
    """What a table or a tree written to a pipe or a file may take: `COLUMNS`, else PIPE_WIDTH
    (`COLUMNS=0` says nothing of a width: rich would draw the table 0 wide, that is nothing)."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH


def _plain_stream(stream: Any) -> bool:
    """The stream is no terminal as rich judges it (rich.console.Console.is_terminal)."""
    environ = os.environ
    compatible = environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    force = environ.get("FORCE_COLOR")
    if force is not None:
        return force == ""
    isatty = getattr(stream, "isatty", None)
    try:
        return isatty is None or not isatty()
    except ValueError:
        return False  # a closed stream: rich decides, and says so
