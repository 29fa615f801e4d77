"""The registry of per-trace detectors: each one's cheap screen next to its judgement.

A detector is added here, once, and both ways of reading a log run it. The record pass (other
formats, gzip, stdin) judges every closed trace. The fast pass over our own `events.jsonl`
(`bulk.py`) folds into the tally only the traces some detector's `screen` picks, from the
`Signals` it notes as the lines go by, and judges those: a screen must say True whenever its
judge could find something (it may say True more often; that only costs time). A screen that
cannot tell from the signals says `always`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from msgspec import Struct

from mas_cli.records import replace
from mas_cli.triage import advice, loops, stops
from mas_cli.triage.findings import Finding, with_crew
from mas_cli.triage.sums import Signals
from mas_cli.triage.thresholds import Thresholds
from mas_cli.triage.traces import Trace

Screen = Callable[[Signals, Thresholds], bool]
Judge = Callable[[Trace, Thresholds], Iterable[Finding]]


class Detector(Struct, frozen=True):
    """A per-trace detector: `screen` (could this trace fire?) and `judge` (its findings)."""

    name: str
    screen: Screen
    judge: Judge
    at_end: bool = False
    """Its screen only means something once the trace has ended (asked then, not midway)."""


def always(_signals: Signals, _th: Thresholds) -> bool:
    """The screen of a detector the signals cannot rule out: every trace is judged."""
    return True


DETECTORS: list[Detector] = [
    Detector("turns", loops.could_turns, loops.turns),
    Detector("repeated_calls", loops.could_repeat_calls, loops.repeated_calls),
    Detector("repeated_failures", loops.could_fail, loops.repeated_failures),
    Detector("ping_pong", loops.could_ping_pong, loops.ping_pong),
    Detector("monologue", loops.could_monologue, loops.monologue),
    Detector("token_growth", loops.could_grow, loops.token_growth),
    Detector("limit_hit", stops.could_hit_limit, stops.limit_hits),
    Detector("unfinished", stops.could_be_unfinished, stops.unfinished, at_end=True),
]
"""Every per-trace detector, in the order their findings are listed for a trace. (`rate` is
not one: it reads the per-minute counts, which both passes count the same way.)"""


def could_fire(signals: Signals, th: Thresholds, *, midway: bool = False) -> bool:
    """Whether any detector's screen picks this trace: at its end, or `midway` (the screens
    that only mean something at the end are not asked then). A loop: it runs for every trace."""
    for detector in DETECTORS:
        if (not midway or not detector.at_end) and detector.screen(signals, th):
            return True
    return False


def trace_counted(trace: Trace) -> bool:
    """Whether a trace's tokens are known: some model call in it gave counts (a chat transcript
    without usage: every call's tokens are unknown, not zero), or it made none in a log that
    records every call (a text log of tool calls only says nothing of the model's tokens)."""
    calls = uncounted = 0
    for thread in trace.threads.values():
        calls += thread.calls
        uncounted += thread.uncounted
    return uncounted < calls or (not calls and trace.every_call)


def trace_findings(trace: Trace, th: Thresholds) -> list[Finding]:
    """Every detector's findings for one closed trace, with the trace's crew, fixes in its
    framework's terms."""
    found = [f for d in DETECTORS for f in d.judge(trace, th)]
    if found and not trace_counted(trace):
        found = [replace(f, tokens=None) for f in found]
    found = stops.with_context(found)
    if trace.framework:
        found = advice.speak(trace.framework, found, th)
    return with_crew(found, trace.crew) if trace.crew and found else found
