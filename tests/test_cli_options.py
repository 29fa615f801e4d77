"""One `--format` check for every command, and one exit-code table that the README states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.cli.options import (
    EXIT_BY_STATUS,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_LIMIT,
    EXIT_OK,
    EXIT_USAGE,
)

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["triage", "state", "{state}", "--format", "md"], "table, json"),
        (["triage", "loops", "{state}", "--format", "csv"], "table, json, md"),
        (["cost-report", "{state}", "--format", "xml"], "table, json, csv, md"),
    ],
)
def test_a_format_a_command_does_not_print_is_refused_the_same_way(
    tmp_path: Path, args: list[str], allowed: str
) -> None:
    """`triage state --format md` was accepted and drawn as a table."""
    state = tmp_path / "state.json"
    state.write_text('{"a": 1}', encoding="utf-8")
    result = runner.invoke(app, [a.replace("{state}", str(state)) for a in args])
    assert result.exit_code == EXIT_USAGE, result.output
    assert f"--format '{args[-1]}' is not known to this command" in result.output
    assert f"use one of: {allowed}" in result.output


def test_the_exit_codes_are_the_readmes_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d+) \| ([^|]+) \|$", readme, re.MULTILINE))
    codes = (EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_LIMIT, EXIT_INTERRUPTED)
    assert sorted(map(int, table)) == sorted(codes)
    assert EXIT_BY_STATUS == {"ok": 0, "failed": 1, "stopped": 3, "interrupted": 130}
    assert "limit" in table[str(EXIT_LIMIT)]


def test_no_module_below_the_cli_keeps_an_exit_code_table() -> None:
    """Exit codes lived in three places: this table, errors.py and tools/tooltest.exit_code (its
    0/1/2 literals). Below the CLI only the errors carry a code, and each is in the table."""
    from mas_cli import errors

    below = [p for p in (ROOT / "mas_cli").rglob("*.py") if "cli" not in p.relative_to(ROOT).parts]
    keepers = [
        p for p in below if re.search(r"^def exit_code\(", p.read_text(encoding="utf-8"), re.M)
    ]
    assert keepers == []
    raised = {
        cls.__name__: cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.MasError)
    }
    assert raised == {
        "MasError": EXIT_FAILURE,
        "SpecError": EXIT_USAGE,
        "UsageError": EXIT_USAGE,
        "ProviderError": EXIT_FAILURE,
        "ToolError": EXIT_FAILURE,
        "LogFormatError": EXIT_USAGE,
        "StateConflict": EXIT_FAILURE,
        "ExportError": EXIT_FAILURE,
    }
