"""`mas triage state` reads a state or schema file with a bound, as `--args @file` does.

It read the whole file into one string and parsed it: `/dev/zero` as the state file grew to
8 GB in 30 s, `/dev/urandom` to 5 GB, a 300 MB file to 5 GB. A file past the bound is now bad
input (exit 2) that names the file and the bound, read no further than the bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.triage import state

SCHEMA = {"decision": {"type": "string"}}


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(state, "MAX_STATE_BYTES", 1000)
    return 1000


def _check(tmp_path: Path, snapshot: str, schema: str) -> tuple[int, str]:
    files = {"state.json": snapshot, "schema.json": schema}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    args = ["triage", "state", str(tmp_path / "state.json"), "--schema"]
    result = CliRunner().invoke(app, [*args, str(tmp_path / "schema.json")])
    return result.exit_code, result.stderr


def test_a_state_file_past_the_bound_is_refused(small_cap: int, tmp_path: Path) -> None:
    big = json.dumps({"decision": "x" * small_cap})
    code, err = _check(tmp_path, big, json.dumps(SCHEMA))
    assert code == 2, err
    assert f"state.json: the state file is larger than {small_cap:,} bytes" in err


def test_a_schema_file_past_the_bound_is_refused(small_cap: int, tmp_path: Path) -> None:
    schema = {"decision": {"type": "string", "description": "y" * small_cap}}
    code, err = _check(tmp_path, json.dumps({"decision": "ok"}), json.dumps(schema))
    assert code == 2, err
    assert f"schema.json: the schema file is larger than {small_cap:,} bytes" in err


def test_a_file_at_the_bound_is_read(small_cap: int, tmp_path: Path) -> None:
    snapshot = json.dumps({"decision": "ok"})
    snapshot += " " * (small_cap - len(snapshot))
    code, err = _check(tmp_path, snapshot, json.dumps(SCHEMA))
    assert code == 0, err


def test_a_long_value_is_never_matched_against_the_enum_letter_by_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """difflib indexes every character of the word: a 16 MiB string under an enum took 16 s of
    CPU and 750 MB to learn that it is not close to `approve`. A word over 3 times longer than a
    choice can never reach the 0.6 ratio, so such choices are not compared (same answers)."""
    import difflib

    from mas_cli.spec.findings import did_you_mean

    compared: list[int] = []
    real = difflib.get_close_matches

    def spy(word: str, options: list[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
        compared.append(len(options))
        return real(word, options, n=n, cutoff=cutoff)

    monkeypatch.setattr(difflib, "get_close_matches", spy)
    choices = ["approve", "review", "block"]
    assert did_you_mean("x" * 100_000, choices) == "expected one of: approve, block, review"
    assert compared == []
    assert did_you_mean("aprove", choices) == "did you mean 'approve'?"
    assert did_you_mean("approve" * 2, choices) == "did you mean 'approve'?"
