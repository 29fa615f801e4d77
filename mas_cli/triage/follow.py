"""`mas triage loops --follow`: a growing log watched, each finding shown as it fires.

Records are folded into the same tally a whole-file read uses, and the detectors are called
through the same entry points (`detectors.trace_findings`, `stops.rates`), on the traces that
changed while they are still open: whenever the input goes idle, and at least every SETTLE_S
seconds while it keeps coming, so a finding is shown within a second of the line that makes it.
A finding is shown once, and once more, as an update, when it grows from a warning into an
error. A trace that ends is judged a last time and dropped with what was shown of it; the
per-minute counts keep only the last KEPT_MINUTES minutes. A trace that never ends (a text log
without trace ids) is trimmed every TRIM_EVERY records to what can still make a finding
(`trim.py`). So memory stays bounded on an endless stream, by the traces in flight.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from mas_cli.events.formats import read_records
from mas_cli.events.formats.sniff import sniff
from mas_cli.events.formats.source import TOO_LONG, BadLines
from mas_cli.triage import detectors, stops
from mas_cli.triage.findings import RANK, Finding
from mas_cli.triage.report import Unit
from mas_cli.triage.sums import MinuteKey, Rate
from mas_cli.triage.tail import FollowedSource, Numbered, Tail
from mas_cli.triage.tally import Tally
from mas_cli.triage.thresholds import Thresholds
from mas_cli.triage.trim import held, trim

SETTLE_S = 0.5
KEPT_MINUTES = 3
TRIM_EVERY = 1024
"""Records between two trims of what open traces hold."""
KEPT_SHOWN = 1024
LIVE_ONLY = "unfinished"  # a trace still open is not unfinished: it is running


@dataclass(frozen=True)
class FollowOptions:
    """How to read the log, what counts as a loop, and when to stop."""

    fmt: str = "auto"
    pattern: re.Pattern[str] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    exit_rank: int = 0
    """Stop at the first finding of this rank or worse (see `findings.RANK`); 0 never stops."""
    poll_s: float = 0.1
    warn: Callable[[str], None] = lambda _message: None
    """Told once, early, when no line read so far could be read as the format sniffed."""


@dataclass(frozen=True)
class Fired:
    """A finding as it fires: new, or an update of one shown as a warning and now an error."""

    finding: Finding
    update: bool


@dataclass
class FollowSummary:
    """What following the log did, for the closing line."""

    source: str
    fmt: str = ""
    lines: int = 0
    records: int = 0
    ended_traces: int = 0
    open_traces: int = 0
    found: int = 0
    updates: int = 0
    worst: int = 0
    tripped: Finding | None = None
    interrupted: bool = False
    rotations: int = 0
    truncations: int = 0
    bad: BadLines = field(default_factory=BadLines)
    warned: bool = False

    @property
    def unreadable(self) -> bool:
        """Most of the lines read could not be (as for a whole file, see `report.Input`): no
        record from the lines there, or more than half of them skipped. Never "clean"."""
        return self.lines > 0 and (self.records == 0 or self.bad.count * 2 > self.lines)


class Tripped(Exception):
    """A finding at or above --exit-on fired: stop following."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def follow(
    name: str,
    options: FollowOptions,
    emit: Callable[[Fired], None],
    units: dict[int, Unit] | None = None,
) -> FollowSummary:
    """Follow one log (a path, or - for stdin) until Ctrl-C, --exit-on, or the input's end.

    `units` is filled, as the log is rotated or truncated, with the file each unit of the
    findings' locs stands for (see `LoopReport.where`).

    Raises:
        LogFormatError: the file cannot be opened.
        UsageError: the file is gzipped.
    """
    summary = FollowSummary(name)
    tail = Tail(name, options.poll_s)
    tail.on_too_long = lambda line: summary.bad.add(name, line, TOO_LONG)
    known = {} if units is None else units
    known[0] = Unit(name, 1)
    tail.on_generation = lambda unit, label: known.update({unit: Unit(label, 1)})
    watch = Watch(options.thresholds, options.exit_rank, lambda f, update: emit(Fired(f, update)))

    def idle() -> None:
        _check_readable(summary, watch, options)
        watch.settle()

    tail.on_idle = idle
    try:
        _read(tail, options, watch, summary)
    except Tripped as trip:
        summary.tripped = trip.finding
    except KeyboardInterrupt:
        summary.interrupted = True
    _sum_up(summary, tail, watch)
    return summary


def _read(tail: Tail, options: FollowOptions, watch: Watch, summary: FollowSummary) -> None:
    lines = tail.lines()
    head = _head(lines)
    summary.fmt = fmt = _format(options, [line for _, line in head])
    given = Tally.for_format(fmt)
    watch.tally.framework, watch.tally.every_call = given.framework, given.every_call
    source = FollowedSource(tail.name, [line for _, line in head], chain(head, lines))
    for line, record in read_records(source, fmt, summary.bad, options.pattern):
        watch.observe(tail.loc(line), record)
    watch.finish()  # a pipe closed: the log is whole, and a run that never ended is unfinished


UNREAD_WARNING = 20
"""Lines skipped, with no record read, before the user is told the log is not being read."""


def _check_readable(summary: FollowSummary, watch: Watch, options: FollowOptions) -> None:
    """Warn once when the first UNREAD_WARNING lines gave no record: a live log read as the
    wrong format would otherwise be watched in silence."""
    if summary.bad.count >= UNREAD_WARNING and not watch.tally.records and not summary.warned:
        summary.warned = True
        options.warn(
            f"none of the first {summary.bad.count:,} lines of "
            f"{'standard input' if summary.source == '-' else summary.source} could be read "
            f"as {summary.fmt}: name the format with --log-format, or describe the lines with "
            "--pattern"
        )


def _head(lines: Iterator[Numbered]) -> list[Numbered]:
    """The lines up to the first that is not blank (waiting for it): what the format is."""
    head: list[Numbered] = []
    for numbered in lines:
        head.append(numbered)
        if numbered[1].strip():
            break
    return head


def _format(options: FollowOptions, head: list[bytes]) -> str:
    if options.pattern is not None:
        return "text"
    return options.fmt if options.fmt != "auto" else sniff(head)


def _sum_up(summary: FollowSummary, tail: Tail, watch: Watch) -> None:
    summary.rotations, summary.truncations = tail.rotations, tail.truncations
    summary.lines = tail.read
    summary.records, summary.ended_traces = watch.tally.records, watch.ended
    summary.open_traces = len(watch.tally.open)
    summary.found, summary.updates, summary.worst = watch.found, watch.updates, watch.worst


Key = tuple[Any, ...]


class Watch:
    """The tally of a live log, judged as it grows; each finding handed to `emit` once (and
    once more when it becomes an error)."""

    def __init__(
        self, th: Thresholds, exit_rank: int, emit: Callable[[Finding, bool], None]
    ) -> None:
        self.tally, self.th, self.exit_rank, self.emit = Tally(), th, exit_rank, emit
        self.dirty: set[str] = set()
        self.shown: dict[str, dict[Key, str]] = {}
        """Per open trace, the severity each of its findings was shown at."""
        self.rates_shown: dict[Key, str] = {}
        self.settled = time.monotonic()
        self.found = self.updates = self.worst = self.ended = self.seen = 0

    def observe(self, loc: int, record: Any) -> None:
        """Fold one record in; judge what changed if it is time; trim what is held now and
        then (a trace may never end)."""
        self.tally.observe(loc, record)
        self.dirty.add(record.trace)
        self.seen += 1
        if not self.seen % TRIM_EVERY:
            self.trim()
        if self.tally.closed:
            self._judge_ended()
        if time.monotonic() - self.settled >= SETTLE_S:
            self.settle()

    def settle(self) -> None:
        """Judge the open traces that changed, and the per-minute counts."""
        self.settled = time.monotonic()
        dirty, self.dirty = self.dirty, set()
        for name in dirty:
            trace = self.tally.open.get(name)
            if trace is not None:
                self.tally.settle(trace)
                found = detectors.trace_findings(trace, self.th)
                self._show(
                    self.shown.setdefault(name, {}), (f for f in found if f.detector != LIVE_ONLY)
                )
        self._rates()

    def finish(self) -> None:
        """The input ended: every trace is judged as it stands, unfinished ones too."""
        self.tally.finish()
        self._judge_ended()
        self._rates()

    def trim(self) -> None:
        """Keep of each open trace what can still make a finding, and of what was shown of it
        the latest KEPT_SHOWN (see `trim.py`)."""
        for trace in self.tally.open.values():
            trim(trace)
        for name, shown in self.shown.items():
            if len(shown) > KEPT_SHOWN:
                self.shown[name] = dict(list(shown.items())[-KEPT_SHOWN:])

    def held(self) -> int:
        """How many things grow with the log, over every open trace and what was shown."""
        shown = sum(len(s) for s in self.shown.values()) + len(self.rates_shown)
        return sum(held(t) for t in self.tally.open.values()) + shown

    def _judge_ended(self) -> None:
        for trace in self.tally.closed:
            shown = self.shown.pop(trace.trace, {})
            self.dirty.discard(trace.trace)
            self.ended += 1
            self._show(shown, detectors.trace_findings(trace, self.th))
        self.tally.closed.clear()

    def _rates(self) -> None:
        tally = self.tally
        self._show(
            self.rates_shown,
            stops.rates(tally.starts_per_minute, tally.calls_per_minute, self.th, tally.writers),
        )
        self._prune()

    def _show(self, shown: dict[Key, str], found: Iterable[Finding]) -> None:
        for f in found:
            key = (f.detector, f.agent, f.task, f.first)
            before = shown.get(key)
            if before is not None and RANK[f.severity] <= RANK[before]:
                continue
            shown[key] = f.severity
            self.found += before is None
            self.updates += before is not None
            self.worst = max(self.worst, RANK[f.severity])
            self.emit(f, before is not None)
            if self.exit_rank and RANK[f.severity] >= self.exit_rank:
                raise Tripped(f)

    def _prune(self) -> None:
        """Keep the last few minutes of counts, and what was shown of them."""
        rates = (self.tally.starts_per_minute, self.tally.calls_per_minute)
        for counts in rates:
            _keep_recent(counts)
        firsts = [r.first for counts in rates for r in counts.values()]
        oldest = min(firsts, default=None)
        self.rates_shown = {
            k: v for k, v in self.rates_shown.items() if oldest is not None and k[3] >= oldest
        }


def _keep_recent(counts: dict[MinuteKey, Rate]) -> None:
    minutes = sorted({key[-1] for key in counts})
    if len(minutes) > KEPT_MINUTES:
        old = set(minutes[:-KEPT_MINUTES])
        for key in [k for k in counts if k[-1] in old]:
            del counts[key]
