"""Reliability: arbitrary crew files, misbehaving tools, and a load of concurrent tasks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from crewkit import events, of_type, run, write_crew
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.errors import SpecError, UsageError
from mas_cli.spec.loader import load_crew

runner = CliRunner()
FIELDS = [
    "name",
    "agents",
    "tasks",
    "tools",
    "models",
    "limits",
    "state",
    "process",
    "manager",
    "inputs",
    "role",
    "model",
    "prompt",
    "id",
    "agent",
    "depends_on",
    "writes",
    "output_schema",
    "script",
    "function",
    "command",
    "parameters",
    "kind",
    "max_turns",
    "type",
    "properties",
    "turns",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["offline", "openai:gpt-4o-mini", "parallel", "{x}", "a.py:f"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6)
    ),
    max_leaves=30,
)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _load(folder: Path, content: bytes) -> None:
    path = folder / "crew.yaml"
    path.write_bytes(content)
    try:
        load_crew(path)
    except (SpecError, UsageError) as exc:
        error: SpecError | UsageError = exc
    else:
        return
    assert str(error)  # a message, never empty
    for problem in getattr(error, "problems", []):
        assert min(problem.line, problem.col) >= 0


@SETTINGS
@given(content=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_loader(tmp_path: Path, content: bytes) -> None:
    _load(tmp_path, content)


@SETTINGS
@given(text=st.text(max_size=400))
def test_arbitrary_text_never_crashes_the_loader(tmp_path: Path, text: str) -> None:
    _load(tmp_path, text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(doc=st.dictionaries(st.sampled_from(FIELDS), documents, max_size=8))
def test_arbitrary_crew_shaped_yaml_never_crashes_the_loader(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    _load(tmp_path, yaml.safe_dump(doc, allow_unicode=True).encode())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=st.dictionaries(st.sampled_from(FIELDS), documents, max_size=8))
def test_validate_answers_bad_files_with_exit_2_and_no_traceback(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    path = tmp_path / "crew.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code in (0, 2)
    assert "Traceback" not in result.output
    assert "internal error" not in result.output


FAULTY = """
    name: faulty
    limits: {max_turns: 5, max_identical_tool_calls: 5}
    tools:
      hang: {command: [python, hang.py], timeout_s: 0.5}
      boom: {function: tools.py:boom}
      flood: {command: [python, flood.py], max_output_bytes: 1000}
    agents:
      a:
        role: A
        model: offline
        tools: [hang, boom, flood]
        script:
          - tool_calls: [{name: hang}, {name: boom}, {name: flood}]
          - text: carried on
    tasks: [{id: t, agent: a, prompt: Try everything.}]
"""
HANG = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(os.environ.get("PIDFILE", "pids.txt"), "w").write(f"{os.getpid()} {child.pid}")
time.sleep(60)
"""
FLOOD = "import sys\nsys.stdout.write('x' * 5_000_000)\n"
BOOM = 'def boom() -> str:\n    """Fail."""\n    raise RuntimeError("the tool broke")\n'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return (
        stat.exists() and stat.read_text().split()[2] != "Z"
    )  # a zombie is dead, awaiting its reaper


def test_a_hanging_a_raising_and_a_flooding_tool_do_not_stop_the_run(
    tmp_path: Path, clean_env: Path
) -> None:
    import time

    folder = tmp_path / "c"
    path = write_crew(folder, FAULTY, hang__py=HANG, flood__py=FLOOD, tools__py=BOOM)
    result = run(path, clean_env)
    assert result.status == "ok"
    assert result.tasks["t"].output == "carried on"
    calls = {c["tool"]: c for c in of_type(events(result), "tool_call")}
    assert (calls["hang"]["status"], calls["boom"]["status"], calls["flood"]["status"]) == (
        "timeout",
        "error",
        "ok",
    )
    assert calls["boom"]["error"] == "RuntimeError: the tool broke"
    assert calls["flood"]["output_bytes"] < 2000  # capped, not 5 MB in the conversation
    pids = [int(p) for p in (folder / "pids.txt").read_text().split()]
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "the hanging tool's process tree was not killed"


def test_fifty_concurrent_tasks_lose_no_update_and_no_event(
    tmp_path: Path, clean_env: Path
) -> None:
    n = 50
    schema = "{type: object, required: [n], properties: {n: {type: integer}}}"
    state = (
        "\n".join(f"  k{i}: {{type: integer}}" for i in range(n)) + "\n  shared: {type: integer}"
    )
    free = [
        f"  - {{id: t{i}, agent: a, prompt: 'Count {i}.', output_schema: {schema}, writes: {{n: k{i}}}}}"
        for i in range(n)
    ]
    chain = [  # ten writers of one key, in a chain: each must see the one before
        f"  - {{id: s{i}, agent: a, prompt: Bump., output_schema: {schema}, writes: {{n: shared}}"
        + (f", depends_on: [s{i - 1}]}}" if i else "}")
        for i in range(10)
    ]
    crew = (
        f"name: load\nprocess: parallel\nlimits: {{max_concurrency: {n}, max_llm_calls: 500}}\n"
        f"state:\n{state}\nagents:\n  a: {{role: A, model: offline}}\ntasks:\n"
        + "\n".join(free + chain)
        + "\n"
    )
    path = tmp_path / "crew.yaml"
    path.write_text(crew)
    result = run(path, clean_env)
    log = events(result)
    assert result.status == "ok"
    writes = of_type(log, "state_write")
    assert len(writes) == n + 10
    assert all(w["accepted"] for w in writes)
    saved = json.loads((Path(result.run_dir) / "state.json").read_text())
    assert all(saved[f"k{i}"]["version"] == 1 for i in range(n))
    assert all(saved[f"k{i}"]["writer"] == f"t{i}" for i in range(n))
    assert (saved["shared"]["version"], saved["shared"]["writer"]) == (10, "s9")  # no update lost
    kinds = ("task_started", "task_finished", "llm_call")
    assert {kind: len(of_type(log, kind)) for kind in kinds} == dict.fromkeys(kinds, n + 10)
    assert log[-1]["llm_calls"] == n + 10
