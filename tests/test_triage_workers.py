"""`mas triage loops` on a big mas log reads it in worker processes: a Ctrl-C, a SIGTERM or the
end of the read ends them without a traceback from any of them, and without a hang.

The workers are forked from the command, and so once inherited its handlers, which turn SIGINT
and SIGTERM into a KeyboardInterrupt: a Ctrl-C printed a traceback from each worker, and the
pool's own SIGTERM at the end of every parallel read did too whenever a worker still waited for
a job (44 of 60 reads), and hung the command once in about 60 (a worker interrupted while it
waited held the pool's queue; seen on `bench/bench_triage.py`, stuck for 10 minutes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mas_cli.triage.scan import ScanOptions

ROOT = Path(__file__).resolve().parent.parent
RUNAWAY = ROOT / "crews/runaway-rescoring/crew.yaml"


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mas log past the size read in worker processes: one runaway run's lines, over and over
    as runs of their own (ids changed), about 70 MB."""
    home = tmp_path_factory.mktemp("home")
    subprocess.run(
        [sys.executable, "-m", "mas_cli", "run", str(RUNAWAY), "--offline", "--home", str(home)],
        capture_output=True,
        check=False,
    )
    (events,) = home.glob("runs/*/events.jsonl")
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    run, trace = lines[0]["run_id"], lines[0]["trace_id"]
    one = "\n".join(json.dumps(line) for line in lines) + "\n"
    log = tmp_path_factory.mktemp("big") / "events.jsonl"
    copies = ScanOptions().parallel_bytes * 11 // 10 // len(one) + 1
    with log.open("w") as out:
        for i in range(copies):
            out.write(one.replace(run, f"{run[:-6]}{i:06x}").replace(trace, f"{i:032x}"))
    assert log.stat().st_size > ScanOptions().parallel_bytes
    return log


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"]
)
def test_a_signal_while_workers_read_ends_them_without_a_traceback(
    big_log: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "triage", "loops", str(big_log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C at a terminal reaches the whole process group
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)  # at once: a worker that has not set its own handlers yet too
    workers = _children(proc.pid)
    assert len(workers) >= 2, "the log was not read in worker processes"
    os.killpg(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the command did not end after the signal")
    assert proc.returncode == 130
    assert "Traceback" not in err.decode(), err.decode()[-2000:]
    for worker in workers:
        assert not Path(f"/proc/{worker}").exists() or "Z" in _state(worker)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_worker_killed_from_outside_is_said_and_nothing_hangs(big_log: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "triage", "loops", str(big_log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    os.kill(int(_children(proc.pid)[0]), signal.SIGKILL)  # the OOM killer's way
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the command did not end after one of its workers was killed")
    text = err.decode()
    assert proc.returncode == 1, text
    assert "a worker process reading" in text
    assert "killed by signal 9" in text
    assert "Traceback" not in text


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_reads_in_workers_end_quietly_under_the_commands_handlers(big_log: Path) -> None:
    """The parallel read, many times, in a process that handles SIGINT and SIGTERM as `mas` does:
    every read ends (the pool's own SIGTERM to its workers included), with nothing on stderr."""
    script = textwrap.dedent(
        f"""
        import signal
        from mas_cli.cli import _raise_interrupt
        from mas_cli.triage.scan import ScanOptions, scan
        signal.signal(signal.SIGTERM, _raise_interrupt)
        options = ScanOptions(workers=2, chunk_bytes=1 << 20, parallel_bytes=0)
        log = {str(big_log.with_name("head.jsonl"))!r}
        for _ in range(40):
            assert scan([log], options).inputs[0].records > 0
        print("done")
        """
    )
    with big_log.open("rb") as src:
        head = src.read(4 << 20)
    big_log.with_name("head.jsonl").write_bytes(head[: head.rfind(b"\n") + 1])
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.stdout.strip() == "done", done.stderr[-2000:]
    assert done.stderr == ""
