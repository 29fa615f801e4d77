"""Standard streams that cannot encode our symbols get ASCII stand-ins instead of an error.

Shared by the Typer app and the fast `mas --help`; imports nothing heavy.
"""

from __future__ import annotations

import codecs
import io
import sys

_ASCII = {
    "✓": "ok",
    "✗": "x",
    "▶": ">",
    "■": "#",
    "·": "-",
    "—": "-",
    "─": "-",
    "→": "->",
    "←": "<-",
    "≥": ">=",
    "≤": "<=",
    "…": "...",
    "⚠": "!",
    "│": "|",
    "├": "+",
    "└": "`",
}


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Our symbols as ASCII, anything else as `?`: a stream that cannot take more still reads."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_ASCII.get(ch, "?") for ch in bad), exc.end


def degrade_streams() -> None:
    """Where stdout or stderr cannot encode our symbols (PYTHONIOENCODING=ascii), degrade."""
    codecs.register_error("mas-ascii", _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        try:
            "✓─".encode(stream.encoding or "ascii")
        except (UnicodeEncodeError, LookupError):
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="mas-ascii")
