"""`mas triage loops --follow`: a log read while it is written, rotated, truncated or piped.

Waits are bounded and generous (WAIT_S): a test fails when a finding never comes, and never
asserts how fast one came.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from triage_logs import TRACE, agents_span, jsonl, llm, mas_event, otlp_line, otlp_span, run, tool
from typer.testing import CliRunner

from mas_cli.cli.app import app
from mas_cli.events.formats.text import compile_pattern
from mas_cli.triage.findings import RANK
from mas_cli.triage.follow import KEPT_MINUTES, Fired, FollowOptions, FollowSummary, Watch, follow
from mas_cli.triage.hook import Hook
from mas_cli.triage.report import LoopReport
from mas_cli.triage.thresholds import Thresholds

WAIT_S = 30.0
FAST = 0.05  # the poll interval of the in-process tests


class Live:
    """`mas triage loops ... --follow` in a subprocess, its stdout read line by line."""

    def __init__(self, *args: str, stdin: Any = subprocess.DEVNULL) -> None:
        command = [sys.executable, "-m", "mas_cli", "triage", "loops", *args, "--follow"]
        self.proc = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_finding(self) -> dict[str, Any]:
        """The next JSON line on stdout; fails after WAIT_S."""
        try:
            return dict(json.loads(self.lines.get(timeout=WAIT_S)))
        except queue.Empty:
            self.proc.kill()
            pytest.fail(f"no finding within {WAIT_S} s; stderr: {self.proc.communicate()[1]}")

    def has_read(self, log: Path) -> None:
        """Wait until the follower's read offset in `log` is the file's size (it polls every
        0.1 s: a Ctrl-C sent sooner sums up fewer lines, and the machine may be slow)."""
        size = log.stat().st_size
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if fd.readlink() == log:
                        info = (Path(f"/proc/{self.proc.pid}/fdinfo") / fd.name).read_text()
                        if int(info.split()[1]) >= size:
                            return
            time.sleep(0.01)
        pytest.fail(f"the follower did not read {log} to its end within {WAIT_S} s")

    def end(self, sig: int | None = signal.SIGINT) -> tuple[int, str]:
        """Send `sig` (None: wait for it to stop by itself); the exit code and stderr."""
        if sig is not None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("mas triage loops --follow did not stop")
        assert self.proc.stderr is not None
        self.reader.join(WAIT_S)  # every line of stdout queued
        err = self.proc.stderr.read()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return self.proc.returncode, err


def looping_run(calls: int = 7) -> list[str]:
    """A run whose agent calls the same tool with the same arguments, over and over."""
    return [json.dumps(e) + "\n" for e in run(*[tool(i) for i in range(1, calls + 1)])]


def write_slowly(path: Path, lines: list[str]) -> None:
    """Append each line in two halves, flushed apart: the reader sees partial lines."""
    with path.open("a") as handle:
        for line in lines:
            half = len(line) // 2
            handle.write(line[:half])
            handle.flush()
            time.sleep(0.02)
            handle.write(line[half:])
            handle.flush()


def test_a_finding_shows_while_the_log_is_still_written_and_ctrl_c_sums_up(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.touch()
    lines = looping_run()
    live = Live(str(log), "--json")
    write_slowly(log, lines[:7])  # run start, task start, five identical calls: no end yet
    found = live.next_finding()  # the writer waits for it: it came before the log was done
    assert (found["event"], found["detector"], found["severity"]) == (
        "finding",
        "repeated_calls",
        "warning",
    )
    assert found["evidence"]["first"] == {
        "file": str(log),
        "line": 3,
        "span": None,
        "ts": "2026-11-21T02:00:01.000000Z",
    }
    assert found["evidence"]["last"]["line"] <= 7
    write_slowly(log, lines[7:])
    update = live.next_finding()
    assert (update["event"], update["severity"], update["evidence"]["first"]["line"]) == (
        "update",
        "error",
        3,
    )
    assert "called 6 times" in update["message"] or "called 7 times" in update["message"]
    live.has_read(log)
    code, err = live.end()
    assert code == 0
    assert "stopped (Ctrl-C)" in err
    assert "11 lines · 11 records · 1 run ended, 0 still open · 1 finding (1 updated)" in err
    assert "skipped" not in err  # the halves of a line were held, not read as two bad lines
    assert "Traceback" not in err
    assert live.lines.empty()  # shown once, updated once: never repeated


def test_exit_on_stops_at_the_first_such_finding_with_exit_1(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("".join(looping_run()[:5]))  # three identical calls: a warning
    live = Live(str(log), "--json", "--exit-on", "error")
    assert live.next_finding()["severity"] == "warning"
    with log.open("a") as handle:
        handle.write("".join(looping_run()[5:8]))  # six: an error
    code, err = live.end(sig=None)  # it stops by itself
    assert code == 1
    assert "stopped at the first error (--exit-on)" in err
    update = live.next_finding()
    assert (update["event"], update["severity"]) == ("update", "error")
    assert live.lines.empty()


def test_a_finding_reads_as_text_without_json(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("".join(looping_run()))
    live = Live(str(log), "--exit-on", "warning")
    code, err = live.end(sig=None)
    out = "".join(live.lines.queue)
    assert code == 1, err
    assert "2026-11-21T02:00:07.000000Z error repeated_calls: tool search was called 7" in out
    assert f"where: agent scorer · trace {TRACE} · {log}:3 → 9" in out


def test_a_pipe_is_followed_and_each_finding_goes_to_the_on_finding_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = tmp_path / "got"
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import os, sys\n"
        f"with open({str(got)!r}, 'a') as f:\n"
        "    f.write(os.environ.get('PAGER_TOKEN', '-') + ' ' + sys.stdin.read())\n"
    )
    monkeypatch.setenv("PAGER_TOKEN", "pd")  # the user's own environment reaches the command
    command = f"{sys.executable} {hook}"
    live = Live("-", "--json", "--on-finding", command, stdin=subprocess.PIPE)
    assert live.proc.stdin is not None
    lines = looping_run()
    live.proc.stdin.write("".join(lines[:6]))  # four calls, and no end yet
    live.proc.stdin.flush()
    assert live.next_finding()["detector"] == "repeated_calls"
    live.proc.stdin.write(
        "".join(json.dumps(e) + "\n" for e in run(tool(1), tool(2), finished=False)[2:])
    )
    live.proc.stdin.close()  # the pipe's end: the log is whole
    code, err = live.end(sig=None)
    assert code == 0, err
    assert "the input ended" in err
    sent = got.read_text().splitlines()
    assert all(line.startswith("pd {") for line in sent)
    assert [(json.loads(line[3:])["event"], json.loads(line[3:])["detector"]) for line in sent] == [
        ("finding", "repeated_calls"),
        ("update", "repeated_calls"),  # six calls now: an error
        ("finding", "unfinished"),  # the pipe closed on a run that never ended
    ]


def test_a_failing_on_finding_command_is_reported_not_fatal(tmp_path: Path) -> None:
    warned: list[str] = []
    hook = Hook([sys.executable, "-c", "import sys; sys.exit('no pager here')"], warned.append)
    hook.send({"detector": "turns"})
    missing = Hook([str(tmp_path / "no-such-command")], warned.append)
    missing.send({"detector": "turns"})
    slow = Hook([sys.executable, "-c", "import time; time.sleep(60)"], warned.append, 0.5)
    slow.send({"detector": "turns"})
    for each in (hook, missing, slow):
        each.close()
    said = " | ".join(warned)
    assert "exited 1: no pager here" in said
    assert "no-such-command: cannot be run (No such file or directory)" in said
    assert "stopped after 0.5 s" in said


def test_a_failing_hook_leaves_the_follow_going() -> None:
    log = jsonl(run(*[tool(i) for i in range(1, 8)], finished=False))
    fail = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    args = ["triage", "loops", "-", "--follow", "--on-finding", fail]
    done = CliRunner().invoke(app, args, input=log)
    assert done.exit_code == 0, done.output
    assert "error repeated_calls: tool search was called 7 times" in done.stdout
    assert "warning unfinished" in done.stdout
    assert done.stderr.count("exited 3") == 2  # each finding sent; each failure said
    assert "the input ended" in done.stderr


def test_the_on_finding_payload_never_holds_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdef")
    got = tmp_path / "got"
    copy = f"import sys; open({str(got)!r}, 'w').write(sys.stdin.read())"
    hook = Hook([sys.executable, "-c", copy], print)
    hook.send({"message": "tool echoed sk-live-0123456789abcdef"})
    hook.close()
    assert json.loads(got.read_text()) == {"message": "tool echoed ***"}


@contextmanager
def following(path: str, **options: Any) -> Iterator[tuple[list[Fired], list[FollowSummary]]]:
    """`follow` on a thread, stopped by --exit-on; fails if it never stops."""
    fired: list[Fired] = []
    done: list[FollowSummary] = []
    opts = FollowOptions(poll_s=FAST, **options)
    units = REPORT.units
    units.clear()
    thread = threading.Thread(target=lambda: done.append(follow(path, opts, fired.append, units)))
    thread.daemon = True
    thread.start()
    yield fired, done
    thread.join(WAIT_S)
    assert not thread.is_alive(), f"follow did not stop; fired: {fired}"


REPORT = LoopReport()  # where the rotation tests' locs point: file and line


def where(fired: Fired) -> str:
    return REPORT.where(fired.finding.first)


def wait_for(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.02)


def other_trace(events: list[str]) -> str:
    return "".join(line.replace(TRACE, "0" * 32) for line in events)


def test_a_rotated_log_is_followed_into_the_new_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(looping_run()[:5]))  # a warning in the first file
    with following(str(log), exit_rank=RANK["error"]) as (fired, done):
        wait_for(lambda: len(fired) == 1)
        log.rename(tmp_path / "app.log.1")
        log.write_text(other_trace(looping_run(8)[:8]))  # six calls in the new file: an error
    assert done[0].rotations == 1
    assert done[0].lines == 13  # five lines, then eight in the new file
    assert fired[-1].finding.trace == "0" * 32
    assert where(fired[-1]) == f"{log} (rotated #1):3"  # lines counted from the new file
    assert where(fired[0]) == f"{log}:3"


def test_a_truncated_log_is_read_again_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    padded = [line.replace('"r1"', '"' + "r" * 400 + '"') for line in looping_run()[:5]]
    log.write_text("".join(padded))
    with following(str(log), exit_rank=RANK["error"]) as (fired, done):
        wait_for(lambda: len(fired) == 1)
        log.write_text(other_trace(looping_run(8)[:8]))  # shorter than what was read
    assert done[0].truncations == 1
    assert where(fired[-1]) == f"{log} (truncated #1):3"


def test_a_log_that_is_gzipped_or_missing_is_an_error_that_says_the_fix(tmp_path: Path) -> None:
    (tmp_path / "a.gz").write_bytes(b"\x1f\x8b\x08\x00rest")
    runner = CliRunner()
    gz = runner.invoke(app, ["triage", "loops", str(tmp_path / "a.gz"), "--follow"])
    missing = runner.invoke(app, ["triage", "loops", str(tmp_path / "nope"), "--follow"])
    two = runner.invoke(app, ["triage", "loops", "a", "b", "--follow"])
    alone = runner.invoke(app, ["triage", "loops", "a", "--exit-on", "error"])
    assert (gz.exit_code, missing.exit_code, two.exit_code, alone.exit_code) == (2, 2, 2, 2)
    assert "without --follow" in gz.stderr
    assert "cannot be read" in missing.stderr
    assert "--follow watches one log" in two.stderr
    assert "add --follow" in alone.stderr


def piped(monkeypatch: pytest.MonkeyPatch, text: str, **options: Any) -> list[Fired]:
    stream = io.TextIOWrapper(io.BufferedReader(io.BytesIO(text.encode())))
    monkeypatch.setattr("sys.stdin", stream)
    fired: list[Fired] = []
    follow("-", FollowOptions(poll_s=FAST, **options), fired.append)
    return fired


def repeated(fired: list[Fired]) -> list[tuple[str, str]]:
    return [(f.finding.agent, f.finding.detector) for f in fired if not f.update]


def test_otlp_json_lines_are_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "scorer"}
    call = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    call["gen_ai.tool.call.arguments"] = '{"q": "x"}'
    spans = [otlp_span(f"{i:016x}", "a" * 16, "execute_tool", call, start=i) for i in (1, 2, 3)]
    root = otlp_span("a" * 16, "", "invoke_agent scorer", agent, start=4)
    text = "".join(otlp_line(s) for s in spans) + otlp_line(root)
    assert ("scorer", "repeated_calls") in repeated(piped(monkeypatch, text))


def test_openai_agents_spans_are_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    call = {"type": "function", "name": "lookup", "input": '{"id": 7}', "output": "found"}
    spans = [agents_span(f"f{i}", "a1", call, at=i) for i in (1, 2, 3)]
    agent = agents_span("a1", None, {"type": "agent", "name": "triage"}, at=4)
    text = "".join(json.dumps(s) + "\n" for s in [*spans, agent])
    assert ("triage", "repeated_calls") in repeated(piped(monkeypatch, text))


def test_text_with_a_pattern_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "[run 9] scorer used search (120 tok)\n" * 3
    pattern = compile_pattern(r"\[run (?P<trace>\d+)\] (?P<agent>\w+) used (?P<tool>\w+)")
    assert ("scorer", "repeated_calls") in repeated(piped(monkeypatch, text, pattern=pattern))


def test_our_log_from_a_pipe_with_a_partial_last_line(monkeypatch: pytest.MonkeyPatch) -> None:
    text = jsonl(run(llm(1), *[tool(i) for i in range(2, 6)], finished=False))
    fired = piped(monkeypatch, text.rstrip("\n"))  # the pipe closed before the last newline
    assert repeated(fired) == [("scorer", "repeated_calls"), ("scorer", "unfinished")]


def test_a_finding_is_shown_once_and_updated_once_as_it_grows() -> None:
    shown: list[tuple[str, str, bool]] = []
    watch = Watch(Thresholds(), 0, lambda f, update: shown.append((f.detector, f.severity, update)))
    for line, event in enumerate(run(*[tool(i) for i in range(1, 12)], finished=False), start=1):
        if (record := _record(event)) is not None:
            watch.observe(line, record)
        watch.settle()  # judged after every line: the trace is still open
    assert shown == [("repeated_calls", "warning", False), ("repeated_calls", "error", True)]
    watch.finish()
    assert shown[2:] == [("unfinished", "warning", False)]


def test_memory_stays_bounded_on_an_endless_stream() -> None:
    watch = Watch(Thresholds(invocations_per_minute=1_000_000), 0, lambda *_: None)
    line = 0
    for n in range(300):  # 300 runs, each in its own minute, each looping and ending
        trace = f"{n:032x}"
        events = run(*[tool(i) for i in range(1, 5)], llm(5))
        for event in events:
            line += 1
            event |= {"trace_id": trace, "ts": f"2026-11-21T{n // 60:02d}:{n % 60:02d}:00Z"}
            if (record := _record(event)) is not None:
                watch.observe(line, record)
        watch.settle()
    assert watch.ended == 300
    assert watch.found == 300
    assert not watch.tally.open
    assert not watch.shown
    minutes = {key[-1] for key in watch.tally.calls_per_minute} | {
        key[-1] for key in watch.tally.starts_per_minute
    }
    assert len(minutes) <= KEPT_MINUTES


def _record(event: dict[str, Any]) -> Any:
    from mas_cli.events.formats.mas import read_mas
    from mas_cli.events.formats.source import BadLines

    records = [r for _, r in read_mas([(1, json.dumps(event).encode())], "log", BadLines())]
    return records[0] if records else None


def test_a_busy_minute_is_shown_once_while_it_goes_on() -> None:
    shown: list[tuple[str, str, bool]] = []
    watch = Watch(Thresholds(), 0, lambda f, update: shown.append((f.detector, f.agent, update)))
    starts = [mas_event("task_started", n, agent="scorer", task=f"t{n}") for n in range(1, 13)]
    later = [mas_event("task_started", 60 * m, agent="scorer", task="t") for m in range(1, 6)]
    for line, event in enumerate(run(*starts, *later, finished=False), start=1):
        if (record := _record(event)) is not None:
            watch.observe(line, record)
        watch.settle()
    assert [s for s in shown if s[0] == "rate"] == [("rate", "scorer", False)]
    assert len({key[-1] for key in watch.tally.starts_per_minute}) <= KEPT_MINUTES


def test_ctrl_c_on_a_pipe_that_stays_open_ends_cleanly() -> None:
    live = Live("-", "--json", stdin=subprocess.PIPE)
    assert live.proc.stdin is not None
    live.proc.stdin.write("".join(looping_run()[:6]))
    live.proc.stdin.flush()
    assert live.next_finding()["detector"] == "repeated_calls"
    code, err = live.end()  # the writer is still there: stdin never closed
    assert code == 0
    assert "stopped (Ctrl-C): - (mas) · 6 lines" in err
    assert "Traceback" not in err


def test_a_byte_order_mark_is_read_past_in_a_followed_log(tmp_path: Path) -> None:
    """A BOM on the file's first line (and on the first line of the file it was truncated to)
    does not make it a bad line, nor the log a text log."""
    log = tmp_path / "events.jsonl"
    bom = "\ufeff"
    padded = [line.replace('"r1"', '"' + "r" * 400 + '"') for line in looping_run()[:5]]
    log.write_text(bom + "".join(padded), encoding="utf-8")
    with following(str(log), exit_rank=RANK["error"]) as (fired, done):
        wait_for(lambda: len(fired) == 1)
        log.write_text(bom + other_trace(looping_run(8)[:8]), encoding="utf-8")
    assert done[0].truncations == 1
    assert done[0].bad.count == 0
    assert [f.finding.detector for f in fired] == ["repeated_calls", "repeated_calls"]
    assert where(fired[-1]) == f"{log} (truncated #1):3"


def test_a_finding_that_runs_across_a_truncation_names_both_files(tmp_path: Path) -> None:
    """Calls before and after the log was truncated make one repeat: its lines are named in
    their own files (`app.log:1 → app.log (truncated #1):3`), not as `app.log:1 → 3`."""
    from mas_cli.cli.render.base import stdout
    from mas_cli.cli.render.follow import _finding

    log = tmp_path / "app.log"
    line = "2026-11-21T02:00:0{} agent_run agent=scorer tool=search args=q1 pad={}\n"
    log.write_text("".join(line.format(i, "x" * 200) for i in (1, 2, 3)))
    with following(str(log), exit_rank=RANK["error"]) as (fired, done):
        wait_for(lambda: len(fired) == 1)
        log.write_text("".join(line.format(i, "") for i in (4, 5, 6)))
    assert done[0].truncations == 1
    with stdout.capture() as captured:
        _finding(REPORT, fired[-1])
    assert f"{log}:1 → {log} (truncated #1):3" in captured.get()


def test_a_followed_log_none_of_whose_lines_read_is_unreadable_not_clean() -> None:
    """A pipe of lines no reader takes (a pretty-printed document, JSON logs of an unknown
    shape): told on stderr while it runs, and at its end the verdict is unreadable, exit 2,
    never "0 findings" and exit 0."""
    command = [sys.executable, "-m", "mas_cli", "triage", "loops", "-", "--follow"]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None
    assert proc.stderr is not None
    said: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [said.put(line) for line in proc.stderr or ()])
    reader.start()
    try:
        proc.stdin.write("".join(f'{{"kind": "span", "n": {i}}}\n' for i in range(25)))
        proc.stdin.flush()
        lines = [said.get(timeout=WAIT_S)]
        while "none of the first" not in lines[-1]:  # said while it still runs
            lines.append(said.get(timeout=WAIT_S))
        assert "none of the first 25 lines of standard input could be read as text" in lines[-1]
    finally:
        proc.stdin.close()
        code = proc.wait(timeout=WAIT_S)
        reader.join(WAIT_S)
        proc.stderr.close()
    assert code == 2
    rest = list(said.queue)
    assert rest[-1].startswith("verdict: unreadable (25 of 25 lines skipped, 0 records)")


def test_a_followed_log_read_whole_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.TextIOWrapper(io.BufferedReader(io.BytesIO("".join(looping_run(2)).encode())))
    monkeypatch.setattr("sys.stdin", stream)
    summary = follow("-", FollowOptions(poll_s=FAST), lambda _fired: None)
    assert (summary.unreadable, summary.records) == (False, 6)
