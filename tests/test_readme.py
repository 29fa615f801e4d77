"""The README's two commands are what CI and a new user actually run."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_first_command_installs_and_runs_an_example_crew() -> None:
    first = _blocks()[0].strip()
    assert "pip install ." in first
    assert "mas " in first
    assert "crews/" in first


def test_ci_runs_the_readme_test_command_with_every_check() -> None:
    extracted = subprocess.run(
        ["bash", ".ci/run", "--print"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert extracted == _blocks()[1].strip()
    for check in (
        "pip install -e '.[test]'",
        "ruff check .",
        "ruff format --check .",
        "mypy",
        "lint-imports",
        "pytest",
    ):
        assert check in extracted


def _shell_lines() -> list[str]:
    """Every command line of the README's `sh` and `bash` blocks, comments dropped."""
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", README, flags=re.S)
    lines = (line.split("  #")[0].strip() for block in blocks for line in block.splitlines())
    return [line.removeprefix("$ ") for line in lines if line and not line.startswith("#")]


def test_every_file_of_the_repository_a_readme_command_names_exists() -> None:
    """A new user runs the README's commands from a checkout: `--inputs transactions.jsonl`
    named a file that was nowhere."""
    named = set()
    for line in _shell_lines():
        words = line.split()
        named |= {w for w in words if w.startswith("crews/") and "*" not in w}
        if "crews/" in line:  # an example crew's example: its items file must be there too
            named |= {after for w, after in itertools.pairwise(words) if w == "--inputs"}
    assert named
    assert sorted(w for w in named if not (ROOT / w).exists()) == []


def test_the_readme_batch_example_runs_as_written(tmp_path: Path) -> None:
    [line] = [x for x in _shell_lines() if x.startswith("mas batch") and "--offline" in x]
    done = subprocess.run(
        [sys.executable, "-m", "mas_cli", *shlex.split(line)[1:]],
        cwd=ROOT,
        env={**os.environ, "MAS_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [batch] = (tmp_path / "batches").iterdir()
    results = (batch / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(results) == 5
    assert all('"status": "ok"' in r or '"status":"ok"' in r for r in results), results
