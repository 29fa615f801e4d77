"""A terminal's Ctrl-C, a closed terminal's SIGHUP and a SIGTERM go to the whole foreground
process group: `mas` and every child it started in that group (an --on-finding command used to
be one) get the signal at the same moment. The reapers of command tools and MCP servers, and a
batch's worker processes, run in sessions of their own, out of the terminal's reach: mas stops
them. Each command that starts processes ends with 130 (`triage loops --follow`: 0, as README
says), no traceback from `mas` or any Python child of it, whole run logs, and nothing left
running (tests/groupkit.py walks /proc for it). And a SIGKILL of `mas` alone takes its children
with it."""

from __future__ import annotations

import contextlib
import shlex
import signal
import socket
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from crewkit import write_crew
from groupkit import (
    left_behind,
    logged,
    logs,
    quiet,
    signal_group,
    start,
    started_for,
    wait_until,
)
from mcpkit import RAW, crew_text, stdio_server
from test_batch import SLOW_CREW, items_file
from test_triage_follow import looping_run

from mas_cli.triage.hook import Hook

GROUP = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
STOPS_WITHIN_S = 8  # a bound on a stop that has nothing to wait for (it took 12 s)


def _results(home: Path) -> int:
    found = list(home.glob("batches/*/results.jsonl"))
    return len(found[0].read_text().splitlines()) if found else 0


def _mcp_slow_crew(folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "crew.yaml"
    turns = "- tool_calls: [{name: srv.slow, arguments: {seconds: 60}}]\n- text: done"
    path.write_text(crew_text(stdio_server(), turns), encoding="utf-8")
    return path


def _mcp_batch_crew(folder: Path) -> Path:
    tools = "    tools:\n" + textwrap.indent(stdio_server(), "      ")
    crew = SLOW_CREW.replace("    agents:", tools + "    agents:")
    return write_crew(folder, crew.replace("model: m\n", "model: m\n        tools: [srv]\n"))


@pytest.mark.parametrize("sig", [signal.SIGKILL, *GROUP])
def test_a_batch_over_workers_stopped_leaves_no_worker_and_no_traceback(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """SIGKILL of the batch alone: each worker found its batch gone, ended its runs
    `interrupted`, and then wrote a BrokenPipeError traceback into worker-N.err (sending the
    lines of the runs it had just ended to nobody). The group signals: 130, whole logs."""
    crew = _mcp_batch_crew(tmp_path / "crew")
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(60)])
    proc = start(["batch", str(crew), "--inputs", str(items), "-c", "4", "-w", "2"], tmp_path)
    home = tmp_path / ".mas"
    wait_until(lambda: _results(home) >= 5, "five results")
    if sig == signal.SIGKILL:
        proc.kill()
    err = signal_group(proc, sig) if sig != signal.SIGKILL else proc.communicate()[1].decode()
    assert proc.returncode == (-9 if sig == signal.SIGKILL else 130), err
    assert quiet(err), err
    assert left_behind(tmp_path, proc.pid) == []
    for worker_err in home.glob("batches/*/worker-*.err"):
        assert quiet(worker_err.read_text()), worker_err.read_text()
    ends = [(log[-1]["type"], log[-1]["status"]) for log in logs(home)]
    assert ("run_finished", "interrupted") in ends
    assert {end[0] for end in ends} == {"run_finished"}


@pytest.mark.parametrize("sig", GROUP)
def test_a_run_whose_mcp_tool_blocks_ends_on_a_group_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    crew = _mcp_slow_crew(tmp_path / "c")
    proc = start(["run", str(crew)], tmp_path)
    home = tmp_path / ".mas"

    wait_until(lambda: logged(home, '"tool_calls":["srv.slow"]'), "the MCP tool call")
    err = signal_group(proc, sig)
    assert proc.returncode == 130, err
    assert quiet(err), err
    assert left_behind(tmp_path, proc.pid) == []
    (log,) = logs(home)
    assert (log[-1]["type"], log[-1]["status"]) == ("run_finished", "interrupted")


HOOK = """
import os, subprocess, sys, time
sys.stdin.read()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", sys.argv[1]])
with open(sys.argv[1], "a") as f:
    f.write(f"{os.getpid()} {child.pid}\\n")
time.sleep(60)
"""


def _hook(folder: Path) -> tuple[list[str], Path]:
    script, pids = folder / "hook.py", folder / "hook-pids"
    script.write_text(HOOK, encoding="utf-8")
    return [sys.executable, str(script), str(pids)], pids


def _looping_runs(count: int) -> str:
    lines = []
    for n in range(count):  # each run its own trace: a finding each
        lines += [line.replace('"trace_id": "', f'"trace_id": "{n}') for line in looping_run()]
    return "".join(lines)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_follow_stops_its_on_finding_command_and_sends_no_more(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Each finding still queued for a slow --on-finding command was sent after the Ctrl-C, one
    run at a time (up to 10 s each, 100 queued: minutes), and the command's own traceback (it
    got the Ctrl-C too) was shown as its failure."""
    log = tmp_path / "events.jsonl"
    log.write_text(_looping_runs(5), encoding="utf-8")
    argv, pids = _hook(tmp_path)
    proc = start(
        ["triage", "loops", str(log), "--follow", "--on-finding", shlex.join(argv)], tmp_path
    )
    wait_until(pids.exists, "the --on-finding command")
    err = signal_group(proc, sig)
    assert proc.returncode == 0, err  # README: Ctrl-C sums up, exit 0
    assert quiet(err), err
    assert "stopped (Ctrl-C)" in err
    assert "--on-finding: 4 findings not sent: stopped (Ctrl-C)" in err
    assert left_behind(tmp_path, proc.pid) == []
    assert len(pids.read_text().splitlines()) == 1  # the one in progress; none after the stop


def test_an_on_finding_command_stopped_by_its_timeout_takes_what_it_started(
    tmp_path: Path,
) -> None:
    """The timeout killed the command alone: what it had started ran on after it."""
    argv, pids = _hook(tmp_path)
    warned: list[str] = []
    hook = Hook(argv, warned.append, timeout_s=2)
    hook.send({"detector": "turns"})
    hook.close()
    assert "stopped after 2 s" in " ".join(warned)
    assert left_behind(tmp_path, None, wait=5) == [], pids.read_text()


ONE_TASK = """
name: one
models: {m: offline}
agents:
  a: {role: A, model: m}
tasks:
  - {id: t, agent: a, prompt: Go.}
"""


@contextlib.contextmanager
def _deaf_collector() -> Iterator[str]:
    """An OTLP/HTTP endpoint that takes connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    taken: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                taken.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in taken:
            conn.close()


@pytest.mark.parametrize("sig", GROUP)
def test_a_signal_while_a_run_waits_for_its_spans_leaves_a_whole_log(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The run's end waits up to 1 s for its spans to reach the collector, then writes
    run_finished. Its handlers were off by then and SIGTERM and SIGHUP had their default
    action back: a SIGTERM there killed mas (-15) and left a log without run_finished."""
    crew = write_crew(tmp_path / "c", ONE_TASK)
    with _deaf_collector() as url:
        proc = start(["run", str(crew), "--otel-endpoint", url], tmp_path)
        wait_until(lambda: logged(tmp_path / ".mas", '"type":"task_finished"'), "the task's end")
        err = signal_group(proc, sig)
    assert proc.returncode in (0, 130), err  # 0: it came after the run had ended ok
    assert quiet(err), err
    assert left_behind(tmp_path, proc.pid) == []
    (log,) = logs(tmp_path / ".mas")
    assert log[-1]["type"] == "run_finished"


@pytest.mark.parametrize("command", ["run", "tool-test"])
def test_ctrl_c_while_an_mcp_server_starts_ends_at_once(tmp_path: Path, command: str) -> None:
    """A Ctrl-C while a server was still in its handshake cancelled the start, then closed
    the server with the grace a started one gets (10 s, waiting for a reply that never comes,
    then the SDK's own shutdown): `mas run` and `mas tool-test` took 12 s to end. `mas
    validate` closed it at once already (test_mcp_cli.py)."""
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, busy], start_timeout_s: 60}}\n"
    crew = tmp_path / "c" / "crew.yaml"
    crew.parent.mkdir()
    crew.write_text(crew_text(tools, "- text: done", agent_tools="[raw]"), encoding="utf-8")
    args = ["run", str(crew)] if command == "run" else ["tool-test", "raw.x", "--crew", str(crew)]
    proc = start(args, tmp_path)
    wait_until(lambda: started_for(proc.pid, "mcp_raw.py busy"), "the server's start")
    err = signal_group(proc, signal.SIGINT, timeout=STOPS_WITHIN_S)
    assert proc.returncode == 130, err
    assert quiet(err), err
    assert left_behind(tmp_path, proc.pid) == []


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_hangup_while_a_command_starts_its_servers_exits_130(
    tmp_path: Path, command: str
) -> None:
    """A closed terminal before the run had its own handlers (here: an MCP server still
    starting; an `npx -y` one can take minutes) killed mas by the signal (-1), as it did any
    command but a run under way. SIGHUP is now a Ctrl-C for every command."""
    tools = f"raw:\n  mcp: {{command: [python, {RAW}, busy], start_timeout_s: 60}}\n"
    crew = tmp_path / "c" / "crew.yaml"
    crew.parent.mkdir()
    crew.write_text(crew_text(tools, "- text: done", agent_tools="[raw]"), encoding="utf-8")
    proc = start([command, str(crew)], tmp_path)
    wait_until(lambda: started_for(proc.pid, "mcp_raw.py busy"), "the server's start")
    err = signal_group(proc, signal.SIGHUP, timeout=STOPS_WITHIN_S)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert quiet(err), err
    assert left_behind(tmp_path, proc.pid) == []


NAPPING = """
name: nap
tools:
  nap:
    command: [python, -c, "import sys, time; open(sys.argv[1], 'a').write('x'); time.sleep(60)", "{flag}"]
    parameters: {flag: {type: string}}
    timeout_s: 120
agents:
  a:
    role: A
    model: offline
    tools: [nap]
    script:
      - tool_calls: [{name: nap, arguments: {flag: FLAG}}]
      - text: done
tasks: [{id: t, agent: a, prompt: Wait.}]
"""


@pytest.mark.parametrize("sig", GROUP)
def test_a_run_and_its_resume_end_on_a_group_signal_while_a_command_tool_blocks(
    tmp_path: Path, sig: signal.Signals
) -> None:
    flag = tmp_path / "c" / "calls"
    crew = write_crew(tmp_path / "c", NAPPING.replace("FLAG", str(flag)))
    for args, calls in ((["run", str(crew)], 1), (["resume", "--last"], 2)):
        proc = start(args, tmp_path)
        wait_until(lambda n=calls: flag.exists() and len(flag.read_text()) == n, "the tool call")
        err = signal_group(proc, sig)
        assert proc.returncode == 130, err
        assert quiet(err), err
        assert left_behind(tmp_path, proc.pid) == []
    ends = [(log[-1]["type"], log[-1]["status"]) for log in logs(tmp_path / ".mas")]
    assert ends == [("run_finished", "interrupted")] * 2


def test_an_mcp_server_dies_with_a_run_killed_while_it_serves(tmp_path: Path) -> None:
    """SIGKILL of mas alone: its stdio MCP server (under a reaper, in a session of its own,
    out of reach of the terminal's signals) is ended by the reaper's parent-death signal."""
    crew = _mcp_slow_crew(tmp_path / "c")
    proc = start(["run", str(crew)], tmp_path)
    wait_until(lambda: logged(tmp_path / ".mas", '"tool_calls":["srv.slow"]'), "the tool call")
    assert started_for(proc.pid, "mcp_server.py")
    proc.kill()
    proc.communicate(timeout=30)
    assert left_behind(tmp_path, proc.pid) == []
