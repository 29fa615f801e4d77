"""`--follow` on a text log without trace ids holds what is in flight, not the whole log.

Such a log is one trace that never ends. Every line here is new work (a tool call with new
arguments, a new error, a model call, now and then a limit hit), so a watcher that kept all it
saw would hold something per line. What it holds is counted (`Watch.held`: input sizes, calls,
failures, limit hits, threads, findings shown) after N lines and after 4N lines: the count
stays under a bound that does not grow with the log, and a loop at the end is still found.
"""

from __future__ import annotations

from pathlib import Path

from mas_cli.events.formats import read_records
from mas_cli.events.formats.source import BadLines, line_source
from mas_cli.triage.findings import Finding
from mas_cli.triage.follow import KEPT_SHOWN, TRIM_EVERY, Watch
from mas_cli.triage.thresholds import Thresholds
from mas_cli.triage.trim import KEPT_CALLS, KEPT_INPUTS, KEPT_LIMITS, KEPT_THREADS

AGENTS = ("scorer", "critic")
BOUND = (
    KEPT_INPUTS * len(AGENTS)
    + 2 * KEPT_CALLS * (1 + len(AGENTS))  # calls and failures, each with its agents' spend
    + KEPT_LIMITS
    + KEPT_THREADS
    + KEPT_SHOWN
    + 3 * TRIM_EVERY  # what comes in between two trims
)


def _word(n: int) -> str:
    """A word for n, letters only: numbers are volatile, and would make every call the same."""
    letters = ""
    n += 26**3
    while n:
        n, digit = divmod(n, 26)
        letters += chr(ord("a") + digit)
    return letters


def _log(path: Path, steps: int) -> Path:
    lines = []
    for n in range(steps):
        agent, ts = AGENTS[n % 2], f"2026-12-06T04:{n // 6000 % 60:02d}:{n // 100 % 60:02d}Z"
        lines.append(f"{ts} agent={agent} tool=search args=query-{_word(n)}")
        lines.append(f"{ts} agent={agent} tool=fetch args=page error=refused-{_word(n)}")
        lines.append(f"{ts} agent={agent} model=gpt-4o tokens={100 + n % 7}")
        if n % 50 == 0:
            lines.append(f"{ts} agent={agent} limit_hit limit=max_turns")
    lines += ["2026-12-06T05:00:00Z agent=scorer tool=lookup args=same-thing"] * 4
    path.write_text("\n".join(lines) + "\n")
    return path


def _follow(path: Path) -> tuple[int, list[Finding]]:
    fired: list[Finding] = []
    watch = Watch(Thresholds(), 0, lambda finding, _update: fired.append(finding))
    source = line_source(str(path))
    try:
        for loc, record in read_records(source, "text", BadLines()):
            watch.observe(loc, record)
    finally:
        source.close()
    watch.settle()
    return watch.held(), fired


def test_what_is_held_does_not_grow_with_the_log(tmp_path: Path) -> None:
    small, _ = _follow(_log(tmp_path / "small.log", 2_000))
    big, fired = _follow(_log(tmp_path / "big.log", 8_000))  # 8,000 steps: 24,160 lines
    assert small <= BOUND
    assert big <= BOUND < 24_000
    assert big <= small + TRIM_EVERY  # not four times as much
    repeats = [f for f in fired if f.detector == "repeated_calls" and "lookup" in f.pattern]
    assert repeats, "the loop at the end is still found after the trims"
