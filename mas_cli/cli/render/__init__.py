"""Everything the CLI draws: tables and JSON to stdout; progress, warnings and errors to stderr.

The package exports only the basics every command needs; a command imports the module that
draws its own output (`render.run`, `render.triage`, ...), so it loads no other command's models.
The basics load on first use (they load rich): `render.plain` draws without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mas_cli.cli.render.base import error, internal_error, json_out, problem, stderr, stdout

__all__ = ["error", "internal_error", "json_out", "problem", "stderr", "stdout"]


def __getattr__(name: str) -> Any:
    if name == "json_out":  # JSON and the messages need no rich
        from mas_cli.cli.render import plain

        return plain.json_out
    if name in ("error", "internal_error", "problem"):
        from mas_cli.cli.render import messages

        return getattr(messages, name)
    if name in __all__:
        from mas_cli.cli.render import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
