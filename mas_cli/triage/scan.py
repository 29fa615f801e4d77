"""Read logs into the tally, run the detectors on each trace as it closes, build the report.

Our own `events.jsonl` takes the fast path: blocks of lines decoded by msgspec in one call and
folded by `bulk.py`, and a big file split into byte ranges at run boundaries, one worker process
per core, whose parts are merged as they come back. Every other input (other formats, gzip,
stdin) is read as a stream of records into the tally. Either way the detectors see the same
closed traces, and memory is bounded by the traces in flight, the per-minute counts and the
findings kept (with `ScanOptions.keep`, only the costliest).
"""

from __future__ import annotations

import bisect
import gc
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import starmap
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from mas_cli.events.formats import read_records
from mas_cli.events.formats.mas import decode_runs, run_id
from mas_cli.events.formats.records import make_loc, split_loc
from mas_cli.events.formats.sniff import sniff, sniff_source
from mas_cli.events.formats.source import (
    STDIN,
    TOO_LONG,
    BadLines,
    TruncatedInput,
    bom_size,
    is_gzip,
    line_source,
)
from mas_cli.records import replace
from mas_cli.triage import stops
from mas_cli.triage.blocks import blocks, split_at_runs
from mas_cli.triage.bulk import Bulk
from mas_cli.triage.detectors import trace_findings
from mas_cli.triage.findings import Finding, Findings
from mas_cli.triage.report import AgentKey, AgentRow, Input, LoopReport, Unit, add_trace, finalize
from mas_cli.triage.sums import MinuteKey, Rate, add_rate
from mas_cli.triage.tally import Tally
from mas_cli.triage.thresholds import Thresholds
from mas_cli.triage.workers import run_parallel

FINDING_FIELDS = attrgetter(*Finding.__struct_fields__)
SNIFF_BYTES = 64 << 10


class ScanOptions(Struct, frozen=True):
    """How to read the logs and what counts as a loop."""

    fmt: str = "auto"
    pattern: re.Pattern[str] | None = None
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)
    workers: int = 0
    """Processes for big mas logs; 0 is one per core."""
    chunk_bytes: int = 32 << 20
    """Size of the byte ranges a big mas log is split into."""
    parallel_bytes: int = 64 << 20
    """Smaller mas logs are read in this process."""
    keep: int | None = None
    """Keep only this many findings, the costliest (all are counted); None keeps them all."""
    rates_per_source: bool = False
    """Judge invocations per minute within each source alone (a batch: each log is one item's
    run, and items running at once would look like one agent invoked too fast)."""


@dataclass
class Partial:
    """What reading one part of a log produced, ready to merge."""

    findings: Findings = field(default_factory=Findings)
    rows: dict[AgentKey, AgentRow] = field(default_factory=dict)
    starts: dict[MinuteKey, Rate] = field(default_factory=dict)
    calls: dict[MinuteKey, Rate] = field(default_factory=dict)
    writers: dict[tuple[str, str], str] = field(default_factory=dict)
    """What ran each (crew, agent), when the log says (see `Tally.writers`)."""
    bad: BadLines = field(default_factory=BadLines)
    lines: int = 0
    records: int = 0
    traces: int = 0
    names: list[str] = field(default_factory=list)
    """The traces read in a part of a file, to tell whether parts share one (then dropped)."""
    unfinished: list[str] = field(default_factory=list)
    """Those of them still open at the part's end."""
    units: dict[int, int] = field(default_factory=dict)
    """Each unit of locs in here, and the line of its source it starts at."""

    def drain(self, tally: Tally, th: Thresholds, *, rows: bool = True) -> None:
        """Run the detectors on the traces the tally closed (and fold them into the rows)."""
        for trace in tally.closed:
            self.findings.add(trace_findings(trace, th))
            if rows:
                add_trace(self.rows, trace)
                self.traces += 1
        tally.closed.clear()

    def __getstate__(self) -> dict[str, Any]:
        """Tuples for the trip back from a worker: pickle takes dataclasses one field at a time.

        Equal strings become one object, which pickle then sends once: a log where every run
        loops has many findings that share their agent, trace, fix and often their message.
        """
        state, strings = dict(self.__dict__), dict[str, str]()
        share, found = strings.setdefault, self.findings
        kept = [
            tuple([share(v, v) if type(v) is str else v for v in FINDING_FIELDS(f)])
            for f in found.kept
        ]
        state["findings"] = (found.keep, kept, found.count, dict(found.per_agent), found.worst)
        for name in ("starts", "calls"):
            state[name] = {key: (r.count, r.first, r.last) for key, r in state[name].items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        keep, kept, count, per_agent, worst = state["findings"]
        state["findings"] = Findings(
            keep, list(starmap(Finding, kept)), count, Counter(per_agent), worst
        )
        for name in ("starts", "calls"):
            rates = state[name]
            state[name] = dict(zip(rates, starmap(Rate, rates.values()), strict=True))
        self.__dict__.update(state)

    def append(self, later: Partial) -> None:
        """Add the next part of the same file: its lines are numbered on from this one's."""
        if self.lines:
            _shift_bad_lines(later.bad, self.lines)
        self.units.update({unit: self.lines + first for unit, first in later.units.items()})
        self.lines += later.lines
        _merge(self, later)

    def take_rates(self, tally: Tally) -> None:
        """Keep the tally's per-minute counts."""
        self.starts, self.calls, self.records = (
            tally.starts_per_minute,
            tally.calls_per_minute,
            tally.records,
        )
        self.writers = tally.writers


class Job(Struct, frozen=True):
    """A byte range of a mas log for one worker, with the unit its locs carry."""

    path: str
    start: int
    end: int
    unit: int
    thresholds: Thresholds
    keep: int | None = None


def scan(sources: list[str], options: ScanOptions) -> LoopReport:
    """Read every source and report its loops, most costly first."""
    report, total = LoopReport(), Partial(findings=Findings(options.keep))
    for name in sources:
        with _no_gc():
            fmt, part = _read_source(name, len(report.units), options)
        report.sources.append((name, fmt))
        cut_short, ended = part.bad.cut_short > 0, part.bad.ended_early > 0
        report.inputs.append(
            Input(name, fmt, part.records, part.lines, part.bad.count, cut_short, ended)
        )
        report.units.update({unit: Unit(name, first) for unit, first in part.units.items()})
        if options.rates_per_source:
            th = options.thresholds
            total.findings.add(stops.rates(part.starts, part.calls, th, part.writers))
            part.starts, part.calls = {}, {}
        _merge(total, part)
    total.findings.add(stops.rates(total.starts, total.calls, options.thresholds, total.writers))
    report.bad, report.records, report.traces = total.bad, total.records, total.traces
    return finalize(report, total.rows, total.findings)


def _read_source(name: str, unit: int, options: ScanOptions) -> tuple[str, Partial]:
    fmt = options.fmt
    if name != STDIN and options.pattern is None:
        path = Path(name)
        if path.is_file() and not is_gzip(path):
            fmt = options.fmt if options.fmt != "auto" else _sniff_file(path)
            if fmt == "mas":
                size = path.stat().st_size
                part = _scan_mas(path, unit, options)
                _note_shrinking(path, size, part)
                return fmt, part
    part = Partial(Findings(options.keep), units={unit: 1})
    source = line_source(name, part.bad)
    fmt = "text" if options.pattern else options.fmt
    fmt = sniff_source(source) if fmt == "auto" else fmt
    tally = Tally.for_format(fmt)
    cut: TruncatedInput | None = None
    try:
        for line, record in read_records(source, fmt, part.bad, options.pattern):
            tally.observe(make_loc(unit, line), record)
            if tally.closed:
                part.drain(tally, options.thresholds)
    except TruncatedInput as exc:
        cut = exc
    finally:
        source.close()
    _close(tally, part, options.thresholds)
    part.lines = source.read - source.blank
    if cut is not None:  # `the gzip stream ends early ...: 4 records read before the cut`
        read = f"{part.records:,} record{'s' if part.records != 1 else ''}"
        part.bad.add(name, source.read + 1, f"{cut}: {read} read before the cut")
        part.bad.ended_early += 1
    return fmt, part


def _close(tally: Tally, part: Partial, th: Thresholds) -> None:
    tally.finish()
    part.drain(tally, th)
    part.take_rates(tally)


def _note_shrinking(path: Path, size: int, part: Partial) -> None:
    """A file cut while it was read (a log rotated by truncation, a copy started again) was
    read only up to its new end: one bad line says so, so the report never says "no line
    skipped" about it."""
    try:
        now = path.stat().st_size
    except OSError:  # removed meanwhile: what was read is all there was
        return
    if now < size:
        part.bad.add(
            str(path),
            part.lines + 1,
            f"the file shrank from {size:,} to {now:,} bytes while it was read: what lay past "
            "its new end was not read",
        )


def _sniff_file(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(SNIFF_BYTES)
    return sniff(data.split(b"\n")[:-1] or [data])  # one long line: its start, for a document


def _scan_mas(path: Path, unit: int, options: ScanOptions) -> Partial:
    size, start = path.stat().st_size, bom_size(path)
    workers = options.workers or os.cpu_count() or 1
    ranges = (
        split_at_runs(path, size, options.chunk_bytes, start)
        if size >= options.parallel_bytes
        else []
    )
    if workers < 2 or len(ranges) < 2:
        return scan_range(Job(str(path), start, size, unit, options.thresholds, options.keep))
    jobs = [
        Job(str(path), a, b, unit + i, options.thresholds, options.keep)
        for i, (a, b) in enumerate(ranges)
    ]
    whole, unfinished = Partial(Findings(options.keep)), set[str]()
    parts = run_parallel(scan_range, jobs, workers)
    for part in parts:  # merged as they come: few parts are held at once
        if unfinished.intersection(part.names):  # a run goes on in a later part: runs
            parts.close()  # interleave, so stop the workers and read the file in one piece
            return scan_range(Job(str(path), start, size, unit, options.thresholds, options.keep))
        unfinished.update(part.unfinished)
        part.names = part.unfinished = []
        whole.append(part)
    return whole


def scan_range(job: Job) -> Partial:
    """Read one byte range of a mas log (the whole file, or one worker's share)."""
    with _no_gc():
        return _scan_range(job)


@contextmanager
def _no_gc() -> Iterator[None]:
    """The collector off: reading makes no reference cycles, and its memory is bounded by the
    traces in flight, so a collection would only walk the held lines again and again (a tenth
    of the time of a pass)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scan_range(job: Job) -> Partial:
    part, bulk = Partial(Findings(job.keep)), Bulk(job.thresholds)
    line, places, at = 1, list[tuple[int, int, int]](), job.start
    for arrays in blocks(job.path, job.start, job.end):
        if arrays is None:
            part.bad.add(job.path, line, TOO_LONG)
            line, at = line + 1, -1  # where the next blocks start is no longer known
            continue
        array, block = arrays
        if at >= 0:
            places.append((line, at, len(block)))
            at += len(block)
        runs, count = decode_runs(array, block, job.path, line, part.bad)
        for first, lines in runs:  # the block's blank lines are stepped over, not observed
            bulk.observe_all(make_loc(job.unit, first), lines)
        line += count
        part.drain(bulk.tally, job.thresholds, rows=False)
    part.lines = line - 1
    bulk.finish()
    _name_runs(job.path, bulk.tally, places)
    bulk.tally.finish()
    part.drain(bulk.tally, job.thresholds, rows=False)
    part.rows, part.names, part.records = bulk.rows, bulk.traces, bulk.records
    part.unfinished = bulk.unfinished
    part.traces, part.units = len(bulk.traces), {job.unit: 1}
    part.starts, part.calls = bulk.starts_per_minute, bulk.calls_per_minute
    return part


def _name_runs(path: str, tally: Tally, places: list[tuple[int, int, int]]) -> None:
    """The run id of each trace that never finished, from its first line, read again.

    Blocks are decoded without it (a tenth of the decoding time): it is needed only here.
    """
    for trace in tally.open.values():
        line = split_loc(trace.first)[1]
        block = bisect.bisect_right(places, (line, 1 << 62)) - 1
        if trace.run or block < 0:
            continue
        first, offset, size = places[block]
        with Path(path).open("rb") as handle:
            handle.seek(offset)
            lines = handle.read(size).split(b"\n")
        if line - first < len(lines):
            trace.run = run_id(lines[line - first])


def _merge(total: Partial, part: Partial) -> None:
    total.findings.absorb(part.findings)
    for key, row in part.rows.items():
        total.rows.setdefault(key, AgentRow(row.agent, row.crew)).absorb(row)
    for mine, theirs in ((total.starts, part.starts), (total.calls, part.calls)):
        for minute in mine.keys() & theirs.keys():  # parts of a log share few minutes
            rate = theirs.pop(minute)
            add_rate(mine, minute, rate.count, rate.first, rate.last)
        mine.update(theirs)
    total.writers.update(part.writers)
    total.bad.merge(part.bad)
    total.records += part.records
    total.traces += part.traces


def _shift_bad_lines(bad: BadLines, by: int) -> None:
    if by:
        bad.first = [replace(b, line=b.line + by) for b in bad.first]
