"""Bad option values a new user types: each a usage error (exit 2) that says what to give,
never an internal error, never a silently different answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
FRAUD = str(ROOT / "crews/fraud-review/crew.yaml")
runner = CliRunner()


@pytest.fixture
def two_runs(clean_env: Path) -> Path:
    for _ in range(2):
        assert runner.invoke(app, ["run", FRAUD, "--offline", "-q"]).exit_code == 0
    return clean_env


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_runs_with_a_limit_below_one_is_a_usage_error(two_runs: Path, limit: str) -> None:
    """`--limit -3` listed one run, as if it meant something."""
    result = runner.invoke(app, ["runs", "--limit", limit])
    assert result.exit_code == 2
    assert f"--limit {limit} lists no run" in result.stderr
    assert "give 1 or more" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "--since", "99999999d"],
        ["cost-report", "--all", "--since", "99999999d"],
        ["runs", "--since", "9" * 30 + "w"],
        ["runs", "prune", "--older-than", "99999999d", "--dry-run"],
    ],
)
def test_a_span_past_the_year_1_is_a_usage_error(two_runs: Path, args: list[str]) -> None:
    """`--since 99999999d` was an internal error (OverflowError: date value out of range)."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output
    assert "reaches back past the year 1" in result.stderr


def test_runs_since_a_moment_after_every_run_says_so(two_runs: Path) -> None:
    """Not "no runs under ... yet: try mas run ...": there are runs, none since then."""
    result = runner.invoke(app, ["runs", "--since", "0h"])
    assert result.exit_code == 0
    assert "no runs since 0h" in result.stderr
    assert "yet" not in result.stderr
