"""Everything the CLI draws: tables and JSON to stdout; progress, warnings and errors to stderr.

The package exports only the basics every command needs; a command imports the module that
draws its own output (`render.run`, `render.triage`, ...), so it loads no other command's models.
"""

from mas_cli.cli.render.base import error, internal_error, json_out, problem, stderr, stdout

__all__ = ["error", "internal_error", "json_out", "problem", "stderr", "stdout"]
