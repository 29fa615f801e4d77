"""`mas view` on a big run: generation time, file size, and the browser's load time.

Run: python bench/bench_view.py [--calls 1000,5000] [--runs 3]

Each run is a generated events.jsonl shaped like a parallel crew's (8 agents on 8 tasks at
once, each model call followed by a tool call, a retry now and then, one limit hit at the
end) with `--calls` model calls. `mas view` writes its page in this process (reading the log,
the triage of loops, the SVG, the page), timed; the page is then opened in Debian's chromium
(headless, through Playwright) and timed from navigation to the `load` event and to the
timeline drawn, from the browser's own clock. Targets (issue 22): a run of 1,000 model calls
opens in under 2 s and makes a file under 5 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "realservers"))

AGENTS = 8


def write_log(folder: Path, calls: int) -> Path:
    """A run log with `calls` model calls, 8 tasks side by side."""
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    lines: list[dict[str, Any]] = [
        {"type": "run_started", "crew": "bench", "crew_path": "bench.yaml", "process": "parallel"}
    ]
    lines += [
        {"type": "task_started", "agent": f"agent{a}", "task": f"task{a}"} for a in range(AGENTS)
    ]
    per = -(-calls // AGENTS)
    for i in range(calls):
        a, turn = i % AGENTS, i // AGENTS + 1
        where = {
            "agent": f"agent{a}",
            "task": f"task{a}",
            "turn": turn,
            "_t": turn * 1.0 + a * 0.05,
        }
        attempt = 2 if i % 97 == 0 else 1
        lines.append(
            {
                **where,
                "type": "llm_call",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "attempt": attempt,
                "input_tokens": 800 + 120 * turn,
                "output_tokens": 60,
                "cost_usd": 0.0002,
                "latency_s": 0.6,
                "wait_s": 0.2 if attempt > 1 else 0.0,
                "tool_calls": ["search"],
            }
        )
        lines.append(
            {
                **where,
                "_t": where["_t"] + 0.3,
                "type": "tool_call",
                "tool": "search",
                "tool_call_id": f"call_{turn}",
                "args_digest": f"{i:016x}",
                "latency_s": 0.25,
                "cached": i % 3 == 0,
            }
        )
    end = per + 1.0
    lines.append(
        {
            "type": "limit_hit",
            "agent": "agent0",
            "task": "task0",
            "kind": "max_llm_calls",
            "value": calls,
            "threshold": calls,
            "scope": "run",
            "message": f"stopped: max_llm_calls {calls} reached",
            "_t": end,
        }
    )
    lines += [
        {
            "type": "task_finished",
            "agent": f"agent{a}",
            "task": f"task{a}",
            "status": "stopped",
            "_t": end,
        }
        for a in range(AGENTS)
    ]
    lines.append(
        {
            "type": "run_finished",
            "status": "stopped",
            "duration_s": end,
            "llm_calls": calls,
            "tool_calls": calls,
            "input_tokens": 0,
            "output_tokens": 0,
            "_t": end,
        }
    )
    log = folder / "events.jsonl"
    with log.open("w", encoding="utf-8") as out:
        for n, line in enumerate(lines):
            ts = start + timedelta(seconds=line.pop("_t", 0.0))
            envelope = {
                "v": 1,
                "ts": ts.isoformat().replace("+00:00", "Z"),
                "run_id": "bench",
                "trace_id": "t",
                "span_id": f"s{n}",
            }
            out.write(json.dumps({**envelope, **line}) + "\n")
    return log


def generate(log: Path) -> tuple[float, Path]:
    from mas_cli.view.build import write_run_view

    began = time.perf_counter()
    page = write_run_view(log)
    return time.perf_counter() - began, page


LOADED = """() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  done({load: nav.loadEventEnd, drawn: performance.now(),
        bars: document.querySelectorAll('.call').length});
})))"""


def open_page(browser: Any, page: Path) -> tuple[float, float, int]:
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.goto(page.resolve().as_uri())
    seen = tab.evaluate(LOADED)
    tab.close()
    if problems:
        raise SystemExit(f"console errors: {problems}")
    return seen["load"] / 1000, seen["drawn"] / 1000, int(seen["bars"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1000,5000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import install
    from playwright.sync_api import sync_playwright

    binary = install.install_chromium()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(binary), args=["--no-sandbox"])
        for calls in (int(c) for c in args.calls.split(",")):
            log = write_log(Path(tmp) / str(calls), calls)
            made = [generate(log) for _ in range(args.runs)]
            page = made[-1][1]
            opened = [open_page(browser, page) for _ in range(args.runs)]
            rows.append(
                (
                    calls,
                    log.stat().st_size,
                    [m[0] for m in made],
                    page.stat().st_size,
                    [o[0] for o in opened],
                    [o[1] for o in opened],
                    opened[-1][2],
                )
            )
        browser.close()
    report(rows, args.runs)


def report(rows: list[Any], runs: int) -> None:
    print(f"mas view on generated runs; medians of {runs}; load average {os.getloadavg()[0]:.2f}")
    print(
        "| model calls | log MB | generate s | file MB | browser load s | timeline drawn s | calls drawn | targets (1,000 calls) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for calls, log_bytes, gen, size, load, drawn, bars in rows:
        med = statistics.median
        target = ""
        if calls == 1000:
            ok = med(drawn) < 2 and size < 5e6
            target = f"opens < 2 s, file < 5 MB: {'met' if ok else 'NOT met'}"
        print(
            f"| {calls:,} | {log_bytes / 1e6:.2f} | {med(gen):.2f} | {size / 1e6:.2f} | {med(load):.2f} | {med(drawn):.2f} | {bars:,} | {target} |"
        )
    print(
        "'opens' = the browser's time from navigation to the timeline drawn; generating the file"
        " (mas view) comes before it. Each model call is followed by a tool call."
    )


if __name__ == "__main__":
    main()
