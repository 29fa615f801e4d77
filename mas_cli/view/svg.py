"""Small SVG helpers: every text and attribute value passes through `esc`."""

from __future__ import annotations

from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#e15759")


def esc(value: object) -> str:
    """Text or an attribute value made safe for HTML and SVG (quotes included)."""
    return escape(str(value), quote=True)


def num(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def color(index: int) -> str:
    """The palette's colour for the index-th series."""
    return PALETTE[index % len(PALETTE)]


def rect(x: float, y: float, w: float, h: float, *, cls: str, extra: str = "") -> str:
    """A rectangle with a class (and any attributes already escaped)."""
    return (
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0.0))}" height="{num(h)}"'
        f' class="{cls}"{extra}/>'
    )


def text(x: float, y: float, words: str, cls: str = "", anchor: str = "start") -> str:
    """A text element; `words` are escaped here."""
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}"{klass}>{esc(words)}</text>'


def title(words: str) -> str:
    """A hover tooltip for the element it is put in."""
    return f"<title>{esc(words)}</title>"


def cut(words: str, width: int) -> str:
    """Text cut to `width` characters, with an ellipsis when cut."""
    return words if len(words) <= width else words[: width - 1] + "…"
