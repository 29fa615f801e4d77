"""Every reader skips and counts a line past its bound, in memory that does not grow with it."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
from pathlib import Path

import pytest
from triage_logs import agents_span, jsonl, llm, otlp_line, otlp_span, run, tool

from mas_cli.events.formats.lines import MAX_LINE_BYTES
from mas_cli.events.formats.source import TOO_LONG
from mas_cli.events.formats.text import MAX_TEXT_LINE_BYTES, PAIR
from mas_cli.events.reader import LogReader
from mas_cli.triage.scan import ScanOptions, scan
from mas_cli.triage.state_log import read_writes

HUGE = MAX_LINE_BYTES * 4  # 64 MiB: held whole (and copied), it would show in the peak
PIECE = 1 << 20


def _write_with_huge_line(path: Path, before: str, after: str, *, zipped: bool = False) -> None:
    """`before`, one line of HUGE bytes (written a piece at a time), then `after`."""
    opener = gzip.open if zipped else open
    with opener(path, "wb") as out:  # type: ignore[operator]
        out.write(before.encode())
        out.write(b'{"v": 1, "type": "llm_call", "agent": "')
        for _ in range(HUGE // PIECE):
            out.write(b"x" * PIECE)
        out.write(b'"}\n' + after.encode())


def _peak_mb(fn: object) -> tuple[object, float]:
    tracemalloc.start()
    try:
        result = fn()  # type: ignore[operator]
        return result, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


MAS_RUN = jsonl(run(llm(1), tool(1)))
OTLP = otlp_line(
    otlp_span("a1", "", "invoke_agent scorer", {"gen_ai.agent.name": "scorer"}),
)
AGENTS = (
    json.dumps(agents_span("s1", None, {"type": "agent", "name": "scorer", "tools": []})) + "\n"
)


@pytest.mark.parametrize(
    ("fmt", "before", "after", "zipped"),
    [
        ("mas", MAS_RUN, MAS_RUN, False),  # the fast path: blocks of a plain file
        ("mas", MAS_RUN, MAS_RUN, True),  # the stream path: gzip (a bomb: 64 MiB of one line)
        ("otlp", OTLP, OTLP, False),
        ("openai-agents", AGENTS, AGENTS, False),
    ],
    ids=["mas", "mas-gzip", "otlp", "openai-agents"],
)
def test_a_line_past_the_bound_is_skipped_counted_and_never_held(
    tmp_path: Path, fmt: str, before: str, after: str, zipped: bool
) -> None:
    log = tmp_path / "log.jsonl"
    _write_with_huge_line(log, before, after, zipped=zipped)
    short = tmp_path / "short.jsonl"
    short.write_text(before + after)
    expected = scan([str(short)], ScanOptions(fmt=fmt, workers=1))

    report, peak = _peak_mb(lambda: scan([str(log)], ScanOptions(fmt=fmt, workers=1)))

    assert report.bad.count == 1  # type: ignore[attr-defined]
    first = report.bad.first[0]  # type: ignore[attr-defined]
    assert (first.line, first.reason) == (before.count("\n") + 1, TOO_LONG)
    assert report.records == expected.records  # type: ignore[attr-defined]
    assert peak < 60, f"{peak:.0f} MB"


def test_a_log_of_one_endless_line_ends_with_one_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\0" * (MAX_LINE_BYTES * 2 + 5))  # /dev/zero's shape, with an end
    report, peak = _peak_mb(lambda: scan([str(log)], ScanOptions(fmt="mas", workers=1)))
    assert report.bad.count == 1  # type: ignore[attr-defined]
    assert report.bad.first[0].reason == TOO_LONG  # type: ignore[attr-defined]
    assert peak < 60, f"{peak:.0f} MB"


def test_the_run_log_reader_of_show_runs_and_cost_report_skips_a_huge_line(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.jsonl"
    _write_with_huge_line(log, MAS_RUN, MAS_RUN)
    reader = LogReader(log)
    events, peak = _peak_mb(lambda: list(reader))
    assert len(events) == 2 * MAS_RUN.count("\n")  # type: ignore[arg-type]
    assert reader.skipped == 1
    assert reader.bad_lines == [(MAS_RUN.count("\n") + 1, TOO_LONG)]
    assert peak < 60, f"{peak:.0f} MB"
    writes, peak = _peak_mb(lambda: read_writes(log))
    assert writes == []
    assert peak < 60, f"{peak:.0f} MB"


def test_a_text_line_past_its_bound_is_skipped_and_counted(tmp_path: Path) -> None:
    line = "2026-11-21 02:00:01 agent_run agent=scorer turn=1\n"
    log = tmp_path / "app.log"
    log.write_text(line + "agent=x " + "y" * MAX_TEXT_LINE_BYTES + "\n" + line)
    report = scan([str(log)], ScanOptions(fmt="text", workers=1))
    assert report.records == 2
    assert report.bad.count == 1
    assert report.bad.first[0].line == 2
    assert report.bad.first[0].reason == f"longer than {MAX_TEXT_LINE_BYTES:,} bytes: skipped"


def test_key_value_pairs_are_found_in_linear_time_on_a_long_word() -> None:
    # One 100 KB word took 41 s (a key tried at each of its letters); now a few milliseconds.
    # The bound below is a thousand times that: it fails only on the quadratic pattern.
    word = "a" * 100_000
    started = time.process_time()
    assert [m["key"] for m in PAIR.finditer(f"{word} agent=scorer {word}")] == ["agent"]
    assert time.process_time() - started < 5
    assert [m["key"] for m in PAIR.finditer("x=1 y.z='a b' 9k=2")] == ["x", "y.z"]
