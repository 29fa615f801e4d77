"""A whole log holds what is in flight, and one runaway run is in flight from its start to its
end: its calls with fresh arguments, each seen once, were all kept (a 633 MB run of them peaked
at 675 MB; 96 MB with the bound, `/usr/bin/time -f %M mas triage loops`). A trace remembers
every repeated call and the SEEN_ONCE_KEPT latest calls seen once, so what it holds stays
bounded, and a call made again within that many distinct calls is still counted as a repeat.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_triage_follow_bounds import _word  # letters only: numbers are volatile
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.events.formats.records import ToolCallRecord, TraceEnd, TraceStart
from mas_cli.triage.tally import Tally
from mas_cli.triage.traces import SEEN_ONCE_BOUND, SEEN_ONCE_KEPT

runner = CliRunner()
FRESH = 5 * SEEN_ONCE_BOUND  # calls with arguments never seen before
EVERY = SEEN_ONCE_KEPT - 100  # the repeated call, made again within the distinct calls kept


def _calls() -> list[ToolCallRecord]:
    calls = []
    for n in range(FRESH):
        calls.append(ToolCallRecord(trace="t", agent="a", task="x", name="search", args=_word(n)))
        if n % EVERY == 0:
            calls.append(ToolCallRecord(trace="t", agent="a", task="x", name="lookup", args="same"))
    return calls


def test_a_run_of_fresh_calls_holds_a_bounded_number_of_them() -> None:
    tally = Tally()
    tally.observe(0, TraceStart(trace="t"))
    most = 0
    for loc, call in enumerate(_calls(), 1):
        tally.observe(loc, call)
        most = max(most, len(tally.open["t"].calls))
    assert most <= 2 * (SEEN_ONCE_KEPT + 1), most  # the kept, and one repeat; it was FRESH + 1
    repeated = tally.open["t"].calls["lookup", "same"]
    assert repeated.count == FRESH // EVERY + 1  # each time it came back, it was remembered
    tally.observe(FRESH, TraceEnd(trace="t"))
    assert tally.closed[0].calls["lookup", "same"].count == repeated.count


def test_a_repeat_among_fresh_calls_is_still_found(tmp_path: Path) -> None:
    lines = [
        f"2026-12-06T04:00:00Z agent=a tool={c.name} args={c.args}" for c in _calls()
    ]  # a text log: one trace that lasts the whole file
    log = tmp_path / "app.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = runner.invoke(app, ["triage", "loops", str(log), "--json"])
    assert done.exit_code == 1, done.stderr
    found = [f["message"] for f in json.loads(done.stdout)["findings"]]
    assert found == [f"tool lookup was called {FRESH // EVERY + 1} times with the same arguments "
                     "by agent a (threshold 3)"]  # fmt: skip
