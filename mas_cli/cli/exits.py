"""Exit codes, as the README's table gives them, and the one `--format` check. No Typer here:
the fast path (cli/fast.py) and the Typer app share them.

    0    ok
    1    a failure, or a CI gate tripped (a triage finding, a state problem, a cost gate, a tool
         test that failed or ran nothing)
    2    bad input: a usage error, an unreadable file, a crew that does not validate
    3    a run stopped by a limit
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_LIMIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_GATE = EXIT_FAILURE
"""A CI gate tripped: the command worked, and what it checked is not as it should be."""
EXIT_BY_STATUS = {
    "ok": EXIT_OK,
    "failed": EXIT_FAILURE,
    "stopped": EXIT_LIMIT,
    "interrupted": EXIT_INTERRUPTED,
}
"""A run's exit code by its final status."""


def output_format(fmt: str, json_out: bool, choices: tuple[str, ...]) -> str:
    """The format to print in: `json` for `--json`, else `fmt` if the command has it.

    Raises:
        UsageError: a format this command does not print (`triage state --format md`).
    """
    from mas_cli.errors import UsageError

    out = "json" if json_out else fmt
    if out not in choices:
        raise UsageError(
            f"--format {fmt!r} is not known to this command",
            hint=f"use one of: {', '.join(choices)}",
        )
    return out
