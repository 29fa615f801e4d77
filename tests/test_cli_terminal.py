"""The terminal as a user meets it: clean pipes, narrow terminals, plain streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAUD = str(ROOT / "crews/fraud-review/crew.yaml")
SUPPORT = str(ROOT / "crews/support-ticket/crew.yaml")


def _mas(
    *args: str, env: dict[str, str] | None = None, home: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mas_cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=home,
        env={**os.environ, "MAS_HOME": str(home / ".mas"), **(env or {})},
        timeout=120,
    )


def _closed_pipe(args: list[str], home: Path) -> int:
    """Run mas with a stdout whose reader has gone (`| head -0`), and return its exit code."""
    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "MAS_HOME": str(home / ".mas")}
    done = subprocess.run(
        [sys.executable, "-m", "mas_cli", *args],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        cwd=home,
        env=env,
        timeout=120,
    )
    os.close(write)
    assert "Traceback" not in done.stderr, done.stderr
    assert "internal error" not in done.stderr, done.stderr
    return done.returncode


def test_run_stdout_is_the_output_only(tmp_path: Path) -> None:
    done = _mas("run", FRAUD, "--offline", "-q", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"] in {"approve", "review", "block"}
    assert "── decide (aggregator) ok" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["validate", FRAUD],
        ["tool-test", "--all", "--crew", SUPPORT],
        ["runs"],
        ["cost-report", "--last"],
        ["show", "--last"],
        ["run", FRAUD, "--offline"],
        ["--help"],
    ],
)
def test_a_closed_pipe_is_not_a_failure(tmp_path: Path, args: list[str]) -> None:
    if args[0] in {"runs", "cost-report", "show"}:
        assert _mas("run", SUPPORT, "--offline", "-q", home=tmp_path).returncode == 0
    assert _closed_pipe(args, tmp_path) == 0
