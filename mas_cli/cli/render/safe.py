"""Text from a log, a model, a tool or a crew never drives the terminal.

Every control character but newline and tab (C0, DEL, the C1 range, so ESC, CSI and OSC
sequences: clipboard writes, window titles, clear-screen) and the bidirectional overrides that
reorder what is shown are printed as visible escapes (`\\x1b`, `\\u202e`). Both consoles apply
`safe` to every piece of text they draw (render/base.py's SafeConsole, and render/plain.py for
lines written without rich), so no command can forget it; the escapes mas's own styling needs
are added by rich around the text, after it is made safe.
"""

from __future__ import annotations

_KEPT = {"\n", "\t"}
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNSAFE = [*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]
_TABLE = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in _UNSAFE
    if chr(code) not in _KEPT
}


def safe(text: str) -> str:
    """The text with every control character shown as an escape instead of acted on."""
    return text.translate(_TABLE)


def one_line(text: str) -> str:
    """A name from a log on one line: its line breaks shown as `\\n`, so it cannot forge a row."""
    return text.replace("\r", "\\r").replace("\n", "\\n")
