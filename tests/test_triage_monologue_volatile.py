"""A monologue on our own log is seen through volatile parts, as the other detectors see repeats.

An agent that polls a job's status asks the same thing every turn, each time with a fresh
request id: its model output differs only in that id. The writer records the output's digest
without its volatile parts (`output_shape`, with `output_varied` naming them), and triage's
monologue detector, on a plain `events.jsonl`, its gzip and stdin alike, finds the repeat and
says what varied. Outputs that differ in what they say are still told apart.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from mas_cli.cli import app

TOOLS = '''
def check_status(job: str, request_id: str) -> str:
    """The status of a job."""
    return "pending"
'''


def _crew(folder: Path, turns: list[dict[str, Any]]) -> Path:
    (folder / "tools.py").write_text(TOOLS)
    spec = {
        "name": "poller",
        "models": {"m": {"provider": "offline", "model": "gpt-4o-mini"}},
        "limits": {"max_turns": 10, "max_identical_tool_calls": 30},
        "tools": {"check_status": {"function": "tools.py:check_status", "kind": "live"}},
        "agents": {
            "watcher": {
                "role": "Watcher",
                "model": "m",
                "tools": ["check_status"],
                "script": {"turns": turns},
            }
        },
        "tasks": [{"id": "watch", "agent": "watcher", "prompt": "Wait for job J-7."}],
    }
    path = folder / "crew.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _poll(request_id: str, job: str = "J-7") -> dict[str, Any]:
    call = {"name": "check_status", "arguments": {"job": job, "request_id": request_id}}
    return {"tool_calls": [call]}


def _run(tmp_path: Path, turns: list[dict[str, Any]]) -> Path:
    crew = _crew(tmp_path, turns)
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["run", str(crew), "--offline", "--quiet", "--home", str(home)]
    )
    assert result.exit_code == 0, result.stderr
    (log,) = home.glob("runs/*/events.jsonl")
    return log


def _monologues(*args: str, stdin: bytes | None = None) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["triage", "loops", *args, "--json"], input=stdin)
    assert result.exit_code in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return [f for f in report["findings"] if f["detector"] == "monologue"]


def test_polling_with_fresh_request_ids_is_a_monologue(tmp_path: Path) -> None:
    ids = ["9f1c2a7e-0b1d-4c1e-9a55-0d3c2b1a0f01", "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"]
    ids += ["7a6b5c4d-3e2f-4101-9f8e-7d6c5b4a3f2e", "0e1d2c3b-4a59-4687-a5b4-c3d2e1f00f1e"]
    log = _run(tmp_path, [*(_poll(i) for i in ids), {"text": "The job is still pending."}])
    calls = [e for e in map(json.loads, log.read_text().splitlines()) if e["type"] == "llm_call"]
    assert len({c["output_digest"] for c in calls[:4]}) == 4  # the outputs differ byte for byte
    assert len({c["output_shape"] for c in calls[:4]}) == 1  # but not once the ids are set aside
    assert "output_shape" not in calls[4]  # a text with nothing volatile keeps only its digest
    zipped = tmp_path / "events.jsonl.gz"
    zipped.write_bytes(gzip.compress(log.read_bytes()))
    for found in (
        _monologues(str(log)),
        _monologues(str(zipped)),
        _monologues("-", stdin=log.read_bytes()),
    ):
        (monologue,) = found
        assert monologue["where"]["agent"] == "watcher"
        assert "gave the same output 4 times running" in monologue["message"]
        assert "(the outputs differ only in: request_id)" in monologue["message"]


def test_outputs_that_differ_in_what_they_ask_are_not_a_monologue(tmp_path: Path) -> None:
    turns = [_poll(f"r{n}", job=job) for n, job in enumerate(["J-7", "K-2", "L-9", "M-4"])]
    log = _run(tmp_path, [*turns, {"text": "done"}])
    assert _monologues(str(log)) == []
