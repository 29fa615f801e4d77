"""`mas run`, `mas runs` and `mas show` through the CLI runner; signals through a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def mas(*args: str) -> object:
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    ("crew", "code"),
    [
        ("fraud-review", 0),
        ("research-pipeline", 0),
        ("support-ticket", 0),
        ("runaway-rescoring", 3),
    ],
)
def test_every_example_crew_runs_offline(crew: str, code: int) -> None:
    result = mas("run", str(ROOT / "crews" / crew / "crew.yaml"), "--offline")
    assert result.exit_code == code, result.stderr  # type: ignore[attr-defined]
    last = result.stderr.strip().splitlines()[-1]  # type: ignore[attr-defined]
    assert last.startswith("run ")
    assert last.endswith("/events.jsonl")


def test_runaway_crew_names_the_limit_and_where() -> None:
    result = mas("run", str(ROOT / "crews/runaway-rescoring/crew.yaml"))
    assert result.exit_code == 3  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "■ stopped: max_llm_calls 12 reached (circuit breaker) by agent" in stderr
    assert (
        " stopped: max_llm_calls 12 reached (circuit breaker) by agent " in stderr.splitlines()[-1]
    )


def test_outputs_on_stdout_progress_on_stderr() -> None:
    result = mas("run", str(ROOT / "crews/fraud-review/crew.yaml"), "--offline")
    stdout = result.stdout  # type: ignore[attr-defined]
    assert json.loads(stdout)["decision"] in {"approve", "review", "block"}  # the output only
    assert "── decide (aggregator) ok" in result.stderr  # type: ignore[attr-defined]
    assert "▶ analyze (analyzer)" in result.stderr  # type: ignore[attr-defined]
    assert "▶" not in stdout


def test_json_prints_output_json_and_quiet_silences_progress() -> None:
    result = mas(
        "run", str(ROOT / "crews/support-ticket/crew.yaml"), "--offline", "--json", "--quiet"
    )
    doc = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert doc["status"] == "ok"
    assert list(doc["tasks"]) == ["triage", "answer", "review"]
    assert doc["tasks"]["review"]["data"]["category"] in {
        "billing",
        "account",
        "technical",
        "other",
    }
    assert result.stderr.count("\n") == 1  # type: ignore[attr-defined]


def test_inputs_from_flags_and_file(tmp_path: Path, clean_env: Path) -> None:
    crew = write_crew(
        tmp_path / "c",
        """
        name: echo
        inputs: {a: {required: true}, b: {default: two}}
        agents: {x: {role: X, model: offline}}
        tasks: [{id: t, agent: x, prompt: "A={a} B={b}"}]
        """,
    )
    (tmp_path / "in.json").write_text('{"a": "one", "b": "file"}')
    result = mas(
        "run", str(crew), "--inputs", str(tmp_path / "in.json"), "-i", "b=flag", "--json", "-q"
    )
    assert result.exit_code == 0  # type: ignore[attr-defined]
    words = json.loads(result.stdout)["tasks"]["t"]["output"].split()  # type: ignore[attr-defined]
    assert "one" in words  # from the file
    assert "flag" in words  # the flag wins over the file
    assert not {"file", "two"} & set(words)
    missing = mas("run", str(crew))
    assert missing.exit_code == 2  # type: ignore[attr-defined]
    assert (
        missing.stderr == "error: missing required input: a: no description (give --input a=...)\n"
    )  # type: ignore[attr-defined]
    bad = mas("run", str(crew), "--input", "novalue")
    assert bad.exit_code == 2  # type: ignore[attr-defined]
    assert "--input 'novalue' is not key=value" in bad.stderr  # type: ignore[attr-defined]


def test_an_invalid_crew_exits_2_with_its_problems(tmp_path: Path) -> None:
    crew = write_crew(
        tmp_path / "c",
        "name: x\nagents: {a: {role: A, model: fastt}}\ntasks: [{id: t, agent: a, prompt: p}]\n",
    )
    result = mas("run", str(crew))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "agents.a.model: 'fastt' is not defined under models" in result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_runs_and_show(clean_env: Path) -> None:
    assert mas("runs").stderr.startswith("no runs under")  # type: ignore[attr-defined]
    mas("run", str(ROOT / "crews/fraud-review/crew.yaml"), "--offline", "-q")
    mas("run", str(ROOT / "crews/runaway-rescoring/crew.yaml"), "-q")
    table = mas("runs").stdout.splitlines()  # type: ignore[attr-defined]
    assert table[0].split() == [
        "run",
        "crew",
        "status",
        "started",
        "duration",
        "calls",
        "tokens",
        "cost",
    ]
    assert table[1].split()[1:3] == ["runaway-rescoring", "stopped"]
    assert table[2].split()[1:3] == ["fraud-review", "ok"]
    rows = json.loads(mas("runs", "--json").stdout)  # type: ignore[attr-defined]
    assert [r["llm_calls"] for r in rows] == [12, 5]
    tree = mas("show", "--last").stdout  # type: ignore[attr-defined]
    assert tree.splitlines()[0].startswith("runaway-rescoring run ")
    assert "limit stopped: max_llm_calls 12 reached (circuit breaker)" in tree
    assert "tool request_rescore ok" in tree
    by_prefix = mas("show", rows[1]["run_id"][:20])
    assert by_prefix.stdout.splitlines()[0].startswith("fraud-review run ")  # type: ignore[attr-defined]
    assert "state decision = " in by_prefix.stdout  # type: ignore[attr-defined]
    assert mas("show").exit_code == 2  # type: ignore[attr-defined]
    assert mas("show", "nope").stderr.startswith("error: no run matching 'nope'")  # type: ignore[attr-defined]


SLOW = """
    name: slow
    tools: {nap: {command: [python, nap.py], timeout_s: 60}}
    agents:
      a:
        role: A
        model: offline
        tools: [nap]
    tasks: [{id: t, agent: a, prompt: Sleep.}]
"""
NAP = "import time\nprint('napping', flush=True)\ntime.sleep(60)\n"


def _start(crew: Path, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "MAS_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "run", str(crew), "-q"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _log(home: Path) -> Path:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = list((home / "runs").glob("*/events.jsonl")) if (home / "runs").exists() else []
        if logs and '"tool_calls":["nap"]' in logs[0].read_text():
            return logs[0]
        time.sleep(0.05)
    raise AssertionError("the run never reached its tool call")


def test_sigint_ends_the_run_interrupted_with_exit_130(tmp_path: Path, clean_env: Path) -> None:
    process = _start(write_crew(tmp_path / "c", SLOW, nap__py=NAP), clean_env)
    log = _log(clean_env)
    deadline = time.monotonic() + 30
    while '"llm_call"' not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # the model has asked for the tool
    time.sleep(0.3)  # let the tool start
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    calls = [e for e in events if e["type"] == "tool_call"]
    assert [(c["tool"], c["status"]) for c in calls] == [("nap", "interrupted")]  # not vanished
    last = events[-1]
    assert (last["type"], last["status"], last["reason"]) == (
        "run_finished",
        "interrupted",
        "interrupted by SIGINT",
    )
    output = json.loads((log.parent / "output.json").read_text())
    assert output["tasks"]["t"]["status"] == "cancelled"
    assert "interrupted" in stderr.splitlines()[-1]


def test_a_run_started_with_sigint_ignored_ignores_it(tmp_path: Path, clean_env: Path) -> None:
    """A script that puts `mas run` in the background (`mas run ... &`) starts it with SIGINT
    ignored, so that a Ctrl-C meant for the script leaves the job alone: mas keeps it ignored,
    as Python does, and the run goes on to its end. Before, the run's handler took it over
    and the run ended interrupted."""
    nap = "import time\nprint('napping', flush=True)\ntime.sleep(1.5)\n"
    crew = write_crew(tmp_path / "c", SLOW, nap__py=nap)
    process = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "run", str(crew), "-q"],
        env={**os.environ, "MAS_HOME": str(clean_env)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    )
    log = _log(clean_env)
    process.send_signal(signal.SIGINT)  # while the tool naps
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    last = json.loads(log.read_text().splitlines()[-1])
    assert (last["type"], last["status"]) == ("run_finished", "ok")


def test_a_run_started_with_sigint_ignored_still_stops_on_sigterm(
    tmp_path: Path, clean_env: Path
) -> None:
    """SIGINT ignored from the start leaves SIGTERM as it was: the run ends interrupted, 130."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mas_cli",
            "run",
            str(write_crew(tmp_path / "c", SLOW, nap__py=NAP)),
        ],
        env={**os.environ, "MAS_HOME": str(clean_env)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    )
    log = _log(clean_env)
    process.send_signal(signal.SIGTERM)  # while the tool naps (a minute)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    last = json.loads(log.read_text().splitlines()[-1])
    assert (last["type"], last["status"], last["reason"]) == (
        "run_finished",
        "interrupted",
        "interrupted by SIGTERM",
    )


def test_sigkill_leaves_every_written_line_readable(tmp_path: Path, clean_env: Path) -> None:
    process = _start(write_crew(tmp_path / "c", SLOW, nap__py=NAP), clean_env)
    log = _log(clean_env)
    live = json.loads(mas("runs", "--json").stdout)  # type: ignore[attr-defined]
    assert live[0]["status"] == "running"  # the live process holds the run
    shown = mas("show", "--last").stdout  # type: ignore[attr-defined]
    assert f" running (process {process.pid})" in shown  # which process, of those running
    quiet = time.time() - 7200
    os.utime(log, (quiet, quiet))  # a live run whose log has been quiet for two hours
    pruned = mas("runs", "prune", "--keep", "0")
    assert "removed 0 runs" in pruned.stdout, pruned.stderr  # type: ignore[attr-defined]
    assert log.is_file()
    process.kill()
    process.communicate(timeout=30)
    lines = log.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines][:3] == [
        "run_started",
        "task_started",
        "llm_call",
    ]
    rows = json.loads(mas("runs", "--json").stdout)  # type: ignore[attr-defined]
    assert rows[0]["status"] == "killed"
    assert " killed (no run_finished" in mas("show", "--last").stdout  # type: ignore[attr-defined]
    killed = mas("runs", "--json", "--status", "killed").stdout  # type: ignore[attr-defined]
    assert [r["status"] for r in json.loads(killed)] == ["killed"]


def test_a_limit_given_on_the_command_line_binds_the_run(tmp_path: Path) -> None:
    """`--limit NAME=VALUE`, as `mas resume` takes it: laid over the crew file's limits, logged
    in run_started, and never passed (the incident crew's breaker at 4 calls, not its 12)."""
    runaway = str(ROOT / "crews" / "runaway-rescoring" / "crew.yaml")
    home = str(tmp_path / "home")
    argv = ["run", runaway, "--offline", "-q", "--home", home, "--limit", "max_llm_calls=4"]
    result = mas(*argv, "--limit", "max_cost_usd=0.5")
    assert result.exit_code == 3, result.stderr  # type: ignore[attr-defined]
    [log] = (tmp_path / "home" / "runs").glob("*/events.jsonl")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[0]["limits"]["max_llm_calls"] == 4
    assert events[0]["limits"]["max_cost_usd"] == 0.5
    assert sum(e["type"] == "llm_call" for e in events) == 4
    assert "max_llm_calls 4 reached" in events[-1]["reason"]


@pytest.mark.parametrize(
    ("pair", "said"),
    [
        ("max_llm_cals=4", "--limit max_llm_cals: not a limit (did you mean 'max_llm_calls'?)"),
        ("max_llm_calls", "--limit 'max_llm_calls' is not NAME=VALUE"),
        ("max_llm_calls=-1", "--limit max_llm_calls: Input should be greater than 0"),
    ],
)
def test_a_bad_limit_is_a_usage_error_before_anything_runs(
    tmp_path: Path, pair: str, said: str
) -> None:
    fraud = str(ROOT / "crews" / "fraud-review" / "crew.yaml")
    result = mas("run", fraud, "--offline", "--home", str(tmp_path), "--limit", pair)
    assert result.exit_code == 2
    assert said in result.stderr  # type: ignore[attr-defined]
    assert not (tmp_path / "runs").exists()


def test_a_ctrl_c_while_the_run_ends_is_noted_not_raised(tmp_path: Path) -> None:
    """A Ctrl-C after the run's work and before its logs are closed (here: raised by a listener
    as run_finished is about to be written) does not break the end: run_finished and
    output.json are written, the run ends as it ended, and Ctrl-C answers as before after it.
    Before, the KeyboardInterrupt landed mid-end (test_resume_after_sigint_at_several_lines
    saw an exit of 1 from it)."""
    code = f"""
import asyncio, json, os, signal, sys
from pathlib import Path
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.spec.loader import load_crew

class Late:
    def __call__(self, event):
        pass
    def settle(self):
        os.kill(os.getpid(), signal.SIGINT)

crew = load_crew({str(ROOT / "crews" / "fraud-review" / "crew.yaml")!r})
home = Path({str(tmp_path)!r})
before = signal.getsignal(signal.SIGINT)
result = asyncio.run(run_crew(crew, RunOptions(home, offline=True, listeners=(Late(),))))
assert signal.getsignal(signal.SIGINT) is before
print(json.dumps({{"status": result.status}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "ok"}
    [run_dir] = (tmp_path / "runs").iterdir()
    last = json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])
    assert (last["type"], last["status"]) == ("run_finished", "ok")
    assert (run_dir / "output.json").is_file()
