"""A resumed batch counts every pass: its budgets hold what every earlier run of the batch
spent (runs in flight at a SIGKILL included), and an item in flight at the kill is resumed from
its run, never run afresh: its side effects are not made again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from crewkit import ECHO_CREW, write_crew
from typer.testing import CliRunner

from mas_cli.batch.passes import read_passes
from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
OUTBOX = ROOT / "tests" / "fixtures" / "resume" / "outbox.py"

SENDER = """
    name: sender
    inputs:
      item: {description: The item}
    models:
      m: offline
    tools:
      send: {function: outbox.py:send, kind: side_effect, idempotent: true}
    agents:
      a:
        role: Sender
        model: m
        tools: [send]
        script:
          turns:
            - {tool_calls: [{name: send, arguments: {to: customer, body: hello}}]}
            - {delay_s: 0.3, text: "sent"}
    tasks:
      - {id: answer, agent: a, prompt: "Send {item}."}
"""


def mas(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--home", str(home)])


def items_file(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"item": f"x{n}"}) + "\n" for n in range(count)))
    return path


def jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut by the kill
            continue
    return out


def calls_made(home: Path) -> int:
    """Model calls made (not replayed) by every run under the home."""
    logs = (home / "runs").glob("*/events.jsonl")
    return sum(
        1 for log in logs for e in jsonl(log) if e["type"] == "llm_call" and not e.get("replayed")
    )


def test_the_batch_call_budget_counts_every_pass(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = items_file(tmp_path / "items.jsonl", 10)
    args = ("--inputs", str(items), "-c", "1", "-q", "--offline")
    assert mas(home, "batch", str(crew), *args, "--max-llm-calls", "5").exit_code == 3
    assert calls_made(home) == 5
    (folder,) = (home / "batches").iterdir()
    again = mas(home, "resume", folder.name, "-q")  # the same budget: no call is left
    assert again.exit_code == 3, again.stderr
    assert calls_made(home) == 5
    done = mas(home, "resume", folder.name, "-q", "--max-llm-calls", "10")
    assert done.exit_code == 0, done.stderr
    assert calls_made(home) == 10
    latest = {r["key"]: r["status"] for r in jsonl(folder / "results.jsonl")}
    assert set(latest.values()) == {"ok"}
    assert len(latest) == 10
    passes = read_passes(home, folder)
    assert passes.llm_calls == 10
    assert len(passes.done) == 10


def test_a_batch_killed_with_items_in_flight_resumes_them_and_counts_their_spend(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "crew"
    crew = write_crew(folder, SENDER)
    shutil.copy(OUTBOX, folder / "outbox.py")
    outbox = folder / "outbox.jsonl"
    items = items_file(tmp_path / "items.jsonl", 30)
    home = tmp_path / "home"
    env = {**os.environ, "MAS_HOME": str(home)}
    cmd = [sys.executable, "-m", "mas_cli", "batch", str(crew), "--inputs", str(items), "-c", "3"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, results = time.monotonic() + 60, None
    while time.monotonic() < deadline:  # kill once some item has sent and not yet ended
        found = list((home / "batches").glob("*/results.jsonl")) if home.is_dir() else []
        results = found[0] if found else None
        ended = len(jsonl(results)) if results else 0
        sent = len(jsonl(outbox)) if outbox.exists() else 0
        if ended >= 3 and sent > ended:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert results is not None
    batch = results.parent
    ended = {r["run_id"] for r in jsonl(results)}
    in_flight = [  # runs with no result line: killed in flight (once their log has begun)
        run.name
        for run in (home / "runs").iterdir()
        if run.name not in ended and (run / "events.jsonl").exists() and jsonl(run / "events.jsonl")
    ]
    assert in_flight, "the kill found no item in flight"
    passes = read_passes(home, batch)
    assert passes.llm_calls == calls_made(home)  # the killed runs' calls counted too
    assert set(passes.earlier.values()) >= set(in_flight)
    resumed = subprocess.run(
        [sys.executable, "-m", "mas_cli", "resume", batch.name, "-q"],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    latest = {r["key"]: r for r in jsonl(results)}
    assert len(latest) == 30
    assert {r["status"] for r in latest.values()} == {"ok"}
    assert len(jsonl(outbox)) == 30  # each item sent once: none was sent again on the resume
    origins = set()
    for log in (home / "runs").glob("*/events.jsonl"):
        started = jsonl(log)[0]
        origins.add(started.get("resumed_from"))
    assert set(in_flight) <= origins  # each run killed in flight was resumed
