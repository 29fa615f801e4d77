"""Reliability of the readers: any bytes, any format, a killed run, a closed pipe; never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crewkit import write_crew
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
EVENT_LINE = (
    b'{"v":1,"ts":"2026-11-21T10:00:00.000000Z","run_id":"r","trace_id":"t","span_id":"s",'
    b'"agent":"a","task":"x","turn":1,"type":"llm_call","provider":"openai","model":"gpt-4o-mini",'
    b'"input_tokens":10,"output_tokens":5}\n'
)
lines = st.one_of(
    st.binary(max_size=200),
    st.just(EVENT_LINE),
    st.builds(
        lambda b: EVENT_LINE[: len(b) % len(EVENT_LINE)], st.binary(max_size=300)
    ),  # truncated
    st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
logs = st.lists(lines, max_size=12).map(b"\n".join)


def _clean(result: object) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    assert "internal error" not in output


@SETTINGS
@given(content=logs, fmt=st.sampled_from(["auto", "mas", "otlp", "openai-agents", "text"]))
@example(content=b"\x1f\x8b", fmt="auto")  # a gzip header cut short: the BOM check's peek raised
def test_triage_loops_reads_any_bytes_in_any_format(
    tmp_path: Path, content: bytes, fmt: str
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(content)
    result = runner.invoke(app, ["triage", "loops", str(path), "--log-format", fmt])
    assert result.exit_code in (0, 1, 2)
    _clean(result)


@SETTINGS
@given(content=logs)
def test_cost_report_reads_any_bytes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(content)
    result = runner.invoke(app, ["cost-report", str(path)])
    assert result.exit_code in (0, 1, 2)
    _clean(result)


@SETTINGS
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(st.text(max_size=8), st.none() | st.integers() | st.text(max_size=8)).map(
            lambda d: json.dumps(d).encode()
        ),
    )
)
def test_triage_state_reads_any_bytes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    schema = tmp_path / "schema.json"
    schema.write_text(
        '{"type": "object", "properties": {"score": {"type": "number"}}, "required": ["score"]}'
    )
    result = runner.invoke(app, ["triage", "state", str(path), "--schema", str(schema)])
    assert result.exit_code in (0, 1, 2)
    _clean(result)


SLOW = """
    name: slow
    limits: {max_turns: 5}
    tools: {nap: {command: [python, nap.py], timeout_s: 60}}
    agents:
      a:
        role: A
        model: "openai:gpt-4o-mini"
        tools: [nap]
        script: [{tool_calls: [{name: nap}]}, {text: done}]
    tasks: [{id: t, agent: a, prompt: Sleep.}]
"""


def test_a_killed_run_is_still_reported_by_cost_report_and_triage(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(tmp_path / "c", SLOW, nap__py="import time\ntime.sleep(60)\n")
    env = {**os.environ, "MAS_HOME": str(clean_env)}
    process = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "run", str(crew), "--offline", "-q"], env=env
    )
    log = _wait_for_tool_call(clean_env)
    process.kill()
    process.wait(timeout=30)
    assert all(json.loads(line) for line in log.read_text().splitlines())  # every line parses
    costs = runner.invoke(app, ["cost-report", str(log)])
    assert costs.exit_code == 0, costs.output
    assert "no run_finished" in costs.output.lower() or "killed" in costs.output.lower()
    loops = runner.invoke(app, ["triage", "loops", str(log), "--json"])
    assert loops.exit_code in (0, 1)
    kinds = [f["detector"] for f in json.loads(loops.stdout)["findings"]]
    assert "unfinished" in " ".join(kinds)
    _clean(loops)


def _wait_for_tool_call(home: Path) -> Path:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = list(home.glob("runs/*/events.jsonl"))
        if (
            logs
            and '"type":"tool_call"' not in logs[0].read_text()
            and '"tool_calls":["nap"]' in logs[0].read_text()
        ):
            return logs[0]
        time.sleep(0.05)
    raise AssertionError("the run never reached its tool call")


def test_a_closed_pipe_is_not_an_error(tmp_path: Path, clean_env: Path) -> None:
    big = "x" * 300_000  # more than a pipe holds, so the write really fails
    crew = write_crew(
        tmp_path / "c",
        f"""
        name: big
        agents: {{a: {{role: A, model: offline, script: [{{text: {big}}}]}}}}
        tasks: [{{id: t, agent: a, prompt: Talk.}}]
    """,
    )
    env = {**os.environ, "MAS_HOME": str(clean_env)}
    process = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "run", str(crew), "-q"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.read(100)
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)
    assert b"internal error" not in stderr
    assert b"Traceback" not in stderr
    assert process.returncode in (0, 1)


@pytest.mark.parametrize("command", [["runs"], ["show", "--last"], ["cost-report", "--last"]])
def test_reports_on_an_empty_home_say_so(command: list[str], clean_env: Path) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code in (0, 2)
    _clean(result)
    assert result.stderr.strip()
