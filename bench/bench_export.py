"""OpenTelemetry export: spans per second to a file, to an OTLP/HTTP receiver and to Phoenix,
and what live export (`mas run --otel`) costs a run per model call.

Run: python bench/bench_export.py [--calls N] [--runs N] [--no-phoenix]

- A generated log of N model calls (each with one tool call, ten tasks) is exported with
  `export_runs` in this process: to an OTLP JSON file, to a local OTLP/HTTP receiver
  (tests/otlpreceiver.py, decoding every request), and to Arize Phoenix when
  `python tests/realservers/install.py phoenix` has installed it (until Phoenix's API holds
  every span). Spans per second = spans / wall seconds.
- Live overhead on the run's own thread: the same events fed one by one to the live exporter's
  listener (queued: the spans are made on its builder thread and sent from the SDK's), per
  model call; and the time until the builder thread has made them all.
- Live overhead end to end: an offline crew of `--tasks` one-call tasks, run side by side
  without and with `--otel-endpoint` (the receiver), interleaved; the difference of the
  run's own duration (run_finished's duration_s) per model call.
- A collector in trouble: `mas run` of crews/fraud-review, the process's wall time, without
  export and live to a collector that is down, answers 503, or never answers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import _common as c

sys.path.insert(0, str(c.ROOT))
TASKS = 10


def receiver_module() -> Any:
    spec = importlib.util.spec_from_file_location("otlpreceiver", c.ROOT / "tests/otlpreceiver.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_log(path: Path, calls: int) -> int:
    """A run of `calls` model calls, each followed by a tool call; the spans it makes."""
    trace, run_id, root = "ab" * 16, "20261206T000000000-bench0", "0" * 15 + "1"
    base = {"v": 1, "run_id": run_id, "trace_id": trace}
    seq = iter(range(10, 10**9))

    def ts() -> str:
        n = next(seq)
        return (
            f"2026-12-06T00:{n // 6_000_000 % 60:02d}:{n // 100_000 % 60:02d}.{n % 100_000:05d}0Z"
        )

    with path.open("w", encoding="utf-8") as out:

        def emit(**fields: Any) -> None:
            out.write(json.dumps({**base, "ts": ts(), **fields}) + "\n")

        emit(
            span_id=root,
            type="run_started",
            crew="bench",
            crew_path="crew.yaml",
            process="sequential",
        )
        for task in range(TASKS):
            span, agent = f"{task + 2:016x}", f"agent{task}"
            emit(span_id=span, parent_id=root, agent=agent, task=f"t{task}", type="task_started")
            for turn in range(calls // TASKS):
                where = {
                    "parent_id": f"{turn:08x}{task:08x}",
                    "agent": agent,
                    "task": f"t{task}",
                    "turn": turn + 1,
                }
                emit(
                    span_id=f"{next(seq):016x}",
                    **where,
                    type="llm_call",
                    provider="openai",
                    model="gpt-4o-mini",
                    input_tokens=900 + turn,
                    output_tokens=40,
                    cost_usd=0.0002,
                    latency_s=0.5,
                    finish_reason="tool_calls",
                    tool_calls=["lookup"],
                )
                emit(
                    span_id=f"{next(seq):016x}",
                    **where,
                    type="tool_call",
                    tool="lookup",
                    args_digest=f"{turn:016x}",
                    latency_s=0.01,
                )
            emit(
                span_id=span,
                parent_id=root,
                agent=agent,
                task=f"t{task}",
                type="task_finished",
                status="ok",
            )
        emit(
            span_id=root,
            type="run_finished",
            status="ok",
            duration_s=1.0,
            llm_calls=calls,
            tool_calls=calls,
            input_tokens=0,
            output_tokens=0,
        )
    return 2 * (calls // TASKS) * TASKS + TASKS + 1


def to_file(log: Path, spans: int, tmp: Path) -> list[object]:
    from mas_cli.export import export_runs

    start = time.perf_counter()
    summary = export_runs([log], to=tmp / "out.jsonl")
    seconds = time.perf_counter() - start
    assert summary.spans == spans
    size = (tmp / "out.jsonl").stat().st_size
    return [
        "OTLP JSON file",
        spans,
        f"{seconds:.2f}",
        f"{spans / seconds:,.0f}",
        f"{size / 1e6:.1f} MB",
    ]


def to_receiver(log: Path, spans: int) -> list[object]:
    from mas_cli.export import export_runs

    with receiver_module().Receiver() as receiver:
        start = time.perf_counter()
        export_runs([log], endpoint=receiver.url)
        got = len(receiver.wait_for(spans))
        seconds = time.perf_counter() - start
    assert got == spans, got
    return ["local OTLP/HTTP receiver", spans, f"{seconds:.2f}", f"{spans / seconds:,.0f}", ""]


def to_phoenix(log: Path, spans: int, tmp: Path) -> list[object] | str:
    sys.path.insert(0, str(c.ROOT / "tests" / "realservers"))
    import install

    python = install.phoenix_dir() / "venv" / "bin" / "python"
    if not (install.phoenix_dir() / "installed").exists():
        return "Phoenix: not installed (python tests/realservers/install.py phoenix)"
    port, proc = _free_port(), None
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(tmp / "phx"),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(_free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }
    with (tmp / "phoenix.log").open("w") as out:
        proc = subprocess.Popen(
            [str(python.parent / "phoenix"), "serve"], env=env, stdout=out, stderr=out
        )
    try:
        url = f"http://127.0.0.1:{port}"
        started = _wait(url + "/healthz", 600)
        from mas_cli.export import export_runs

        start = time.perf_counter()
        export_runs([log], endpoint=url)
        sent = time.perf_counter() - start
        held = 0
        while held < spans and time.perf_counter() - start < 900:
            time.sleep(5)  # its API pages 1000 spans a call: asking often slows its ingestion
            held = _phoenix_count(url)
        stored = time.perf_counter() - start
        return [
            "Arize Phoenix (sent / until its API holds all)",
            spans,
            f"{sent:.2f} / {stored:.2f}",
            f"{spans / sent:,.0f} / {spans / stored:,.0f}",
            f"start {started:.0f} s; it held {held}",
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _phoenix_count(url: str) -> int:
    total, cursor = 0, ""
    while True:
        page_url = f"{url}/v1/projects/default/spans?limit=1000" + (
            f"&cursor={cursor}" if cursor else ""
        )
        with urllib.request.urlopen(page_url, timeout=60) as response:
            page = json.load(response)
        total += len(page["data"])
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return total


def _wait(url: str, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout:g} s")


def _free_port() -> int:
    return int(receiver_module().closed_port())


def listener_cost(log: Path, calls: int) -> str:
    """Live export's cost: on the run's thread (events queued), and until the builder thread
    has made every span (the CPU it takes beside the run)."""
    from mas_cli.events.reader import LogReader
    from mas_cli.export.live import LiveExport

    events = list(LogReader(log))
    with receiver_module().Receiver() as receiver:
        live = LiveExport(receiver.url)
        start = time.perf_counter()
        for event in events:
            live(event)
        queued = time.perf_counter() - start
        live.inbox.join()
        built = time.perf_counter() - start
        live.close(30)
    return (
        f"live export, {len(events)} events of {calls} model calls: on the run's thread "
        f"{queued * 1e3 / calls:.3f} ms per model call; spans made on the builder thread "
        f"{built * 1e3 / calls:.3f} ms per model call"
    )


def end_to_end(tasks: int, runs: int, tmp: Path) -> str:
    crew = tmp / "crew.yaml"
    lines = [
        "name: many",
        "process: sequential",
        "models: {m: offline}",
        f"limits: {{max_llm_calls: {tasks + 5}, max_tool_calls: 10}}",
        "agents: {a: {role: Worker, model: m}}",
        "tasks:",
    ]
    lines += [f"  - {{id: t{n}, agent: a, prompt: 'Say {n}.'}}" for n in range(tasks)]
    crew.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain, live = [], []
    with receiver_module().Receiver() as receiver:
        for n in range(runs):
            for options, into in (((), plain), (("--otel-endpoint", receiver.url), live)):
                home = tmp / f"home-{n}-{len(options)}"
                _, finished = c.run_mas(crew, home, *options)
                into.append(finished["duration_s"])
                shutil.rmtree(home)
    extra = (c.median(live) - c.median(plain)) * 1e3 / tasks
    return (
        f"end to end, {tasks} offline model calls, median of {runs}: run {c.median(plain):.3f} s "
        f"without, {c.median(live):.3f} s with live export: {extra:+.3f} ms per model call"
    )


def in_trouble(runs: int, tmp: Path) -> str:
    """What a collector in trouble costs `mas run` (crews/fraud-review, offline): the process's
    wall seconds without export, and with --otel-endpoint to a port nobody listens on, a
    receiver that answers 503 and one that never answers; medians of `runs`."""
    crew = c.ROOT / "crews" / "fraud-review" / "crew.yaml"
    module = receiver_module()
    cases: dict[str, list[float]] = {"no export": [], "down": [], "503": [], "hangs": []}
    with module.Receiver("refuse") as refuse, module.Receiver("hang") as hang:
        urls = {"down": f"http://127.0.0.1:{_free_port()}", "503": refuse.url, "hangs": hang.url}
        for n in range(runs):
            for case, times in cases.items():
                home = tmp / f"trouble-{n}-{len(times)}-{case.replace(' ', '')}"
                options = (
                    ("--offline", "--otel-endpoint", urls[case]) if case in urls else ("--offline",)
                )
                times.append(c.run_mas(crew, home, *options)[0])
                shutil.rmtree(home)
    said = ", ".join(f"{case} {c.median(times):.2f} s" for case, times in cases.items())
    return f"mas run crews/fraud-review --offline, wall, median of {runs}, collector: {said}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000, help="model calls in the generated log")
    parser.add_argument(
        "--tasks", type=int, default=200, help="one-call tasks in the end-to-end crew"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-phoenix", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mas-bench-export-") as folder:
        tmp = Path(folder)
        log = tmp / "events.jsonl"
        spans = write_log(log, args.calls)
        rows: list[list[object]] = [to_file(log, spans, tmp), to_receiver(log, spans)]
        phoenix = (
            "Phoenix: skipped (--no-phoenix)" if args.no_phoenix else to_phoenix(log, spans, tmp)
        )
        if isinstance(phoenix, list):
            rows.append(phoenix)
        print(
            f"Export of a generated run: {args.calls} model calls and as many tool calls, "
            f"{spans} spans; load average {os.getloadavg()[0]:.2f}"
        )
        print(c.table(["to", "spans", "seconds", "spans/s", "note"], rows))
        if isinstance(phoenix, str):
            print(phoenix)
        print(listener_cost(log, args.calls))
        print(end_to_end(args.tasks, args.runs, tmp))
        print(in_trouble(args.runs, tmp))
        print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
