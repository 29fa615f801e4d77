"""What `--follow` keeps of a trace that never ends: the recent part that can still make a finding.

A whole file is read to its end, and a trace's state is dropped when the trace closes. A
followed log may hold one trace for ever (a text log without trace ids, a service that never
ends its run), so its state is trimmed now and then to what can still fire: the last
KEPT_INPUTS input sizes of each thread (token growth fits a recent rise), the KEPT_CALLS most
recently seen calls and failures (a call not seen again in that many distinct calls is not a
loop in progress, and one that fired was shown when it did), the last KEPT_LIMITS limit hits,
and the KEPT_THREADS most recently active threads. Held stays bounded whatever the log's length.
"""

from __future__ import annotations

import heapq
from typing import TypeVar

from mas_cli.triage.traces import Repeat, Trace

KEPT_INPUTS = 256
KEPT_CALLS = 512
KEPT_LIMITS = 64
KEPT_THREADS = 256
K = TypeVar("K")


def trim(trace: Trace) -> None:
    """Drop what of an open trace can no longer make a finding (see the module's docstring)."""
    for thread in trace.threads.values():
        if len(thread.inputs) > KEPT_INPUTS:
            del thread.inputs[:-KEPT_INPUTS]
    trace.calls = _recent(trace.calls)
    trace.failures = _recent(trace.failures)
    if len(trace.limits) > KEPT_LIMITS:
        del trace.limits[:-KEPT_LIMITS]
    if len(trace.threads) > KEPT_THREADS:
        kept = heapq.nlargest(KEPT_THREADS, trace.threads.items(), key=lambda kv: kv[1].last)
        trace.threads = dict(kept)


def _recent(repeats: dict[K, Repeat]) -> dict[K, Repeat]:
    if len(repeats) <= KEPT_CALLS:
        return repeats
    return dict(heapq.nlargest(KEPT_CALLS, repeats.items(), key=lambda kv: kv[1].last))


def held(trace: Trace) -> int:
    """How many things a trace holds that grow with the log: for the tests of the bounds."""
    inputs = sum(len(t.inputs) for t in trace.threads.values())
    spends = sum(len(r.spend) for r in (*trace.calls.values(), *trace.failures.values()))
    sizes = (len(trace.calls), len(trace.failures), len(trace.limits), len(trace.threads))
    return inputs + spends + sum(sizes)
