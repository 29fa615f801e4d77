"""The consoles (and, from render/messages.py, the messages every command prints alike)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.segment import Segment

from mas_cli.cli.boundary import patch_rich
from mas_cli.cli.render.messages import error, internal_error, problem
from mas_cli.cli.render.plain import STATUS_STYLE, json_out, pipe_width, styled
from mas_cli.cli.render.safe import safe

__all__ = [
    "STATUS_STYLE",
    "error",
    "internal_error",
    "json_out",
    "problem",
    "stderr",
    "stdout",
    "styled",
]


_TRAILING_BLANKS = re.compile(r"[ \t]+(?=\n)")


patch_rich()


class SafeConsole(Console):
    """A rich console whose every drawn text segment has been through `safe`."""

    def render(self, renderable: Any, options: Any = None) -> Iterable[Segment]:
        """rich's segments, the text of each made safe (rich's own control segments kept)."""
        for segment in super().render(renderable, options):
            if segment.control:
                yield segment
            else:
                yield Segment(safe(segment.text), segment.style)


class _Console(SafeConsole):
    """A console that writes no escape code under NO_COLOR and pads no line in a pipe."""

    def __init__(self, **kwargs: Any) -> None:
        if os.environ.get("NO_COLOR"):  # no colour, and no bold or dim either
            kwargs["color_system"] = None
        super().__init__(**kwargs)
        # rich reads COLUMNS once, here; `size` reads it as it draws instead (a command run
        # in-process by another follows the environment it is run in, not the first one's).
        self._width = kwargs.get("width")

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        text = super()._render_buffer(buffer)
        return text if self.is_terminal else _TRAILING_BLANKS.sub("", text)


class _Stdout(_Console):
    """Standard output: as wide as the terminal, or else `COLUMNS` or PIPE_WIDTH."""

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size, or in a pipe `COLUMNS` (else PIPE_WIDTH) wide."""
        size = super().size
        if self._width is not None or self.is_terminal:
            return size
        return ConsoleDimensions(pipe_width(), size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


stdout = _Stdout(highlight=False, soft_wrap=True)
stderr = _Console(stderr=True, highlight=False, soft_wrap=True)
