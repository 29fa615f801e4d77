"""Everything the CLI draws: tables and JSON to stdout; progress, warnings and errors to stderr."""

from mas_cli.cli.render.base import error, internal_error, json_out, problem, stderr, stdout
from mas_cli.cli.render.run import Progress, run_result
from mas_cli.cli.render.validate import validation

__all__ = [
    "Progress",
    "error",
    "internal_error",
    "json_out",
    "problem",
    "run_result",
    "stderr",
    "stdout",
    "validation",
]
