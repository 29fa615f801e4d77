"""The README's two commands are what CI and a new user actually run."""

from __future__ import annotations

import re
import subprocess
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
