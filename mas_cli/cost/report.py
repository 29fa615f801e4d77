"""`mas cost-report`: a pure function over run logs, streamed one event at a time.

Memory holds one tally per row (agent, task, model or tool), never the events themselves.
Each run checks itself: the sums of its llm_call events must equal its run_finished totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
from msgspec import Struct

from mas_cli.cost.tally import Tally
from mas_cli.events import logged as ev
from mas_cli.events.formats.source import is_exported
from mas_cli.events.reader import StructReader, check_read
from mas_cli.events.spend import money
from mas_cli.words import plural

By = Literal["agent", "task", "model", "tool"]
BY_CHOICES: tuple[By, ...] = ("agent", "task", "model", "tool")


@dataclass(frozen=True)
class Mismatch:
    """A run_finished total that the llm_call and tool_call events do not add up to."""

    field: str
    logged: str
    recomputed: str


class RunInfo(Struct):
    """One run as the report sees it: who, when, how it ended, and whether it adds up."""

    run_id: str
    path: str
    crew: str = "?"
    started: str = ""
    status: str = "not finished"
    reason: str | None = None
    duration_s: float | None = None
    offline: bool = False
    replay_of: str | None = None  # a replayed run re-reads a recording: it spends nothing new
    resumed_from: str | None = None  # `mas resume`: the run this one continues
    price_data_version: str | None = None
    finished: bool = False
    skipped_lines: int = 0
    first_bad: str = ""
    """The first line skipped, as `path:line: why`."""
    mismatches: list[Mismatch] = msgspec.field(default_factory=list)
    total: Tally = msgspec.field(default_factory=Tally)


class CostReport(Struct):
    """Totals and one row per group, over one or more runs."""

    by: By
    runs: list[RunInfo] = msgspec.field(default_factory=list)
    total: Tally = msgspec.field(default_factory=Tally)
    rows: dict[str, Tally] = msgspec.field(default_factory=dict)

    def row(self, key: str) -> Tally:
        """The row for this key, created empty on first use."""
        return self.rows.setdefault(key, Tally())

    def flags(self) -> list[str]:
        """Everything a reader must know before trusting the figures: over several runs (a
        batch), a warning shared by many is said once with how many, and usage is judged on
        the total, so a thousand offline runs give two lines, not two thousand."""
        if len(self.runs) <= 1:
            return [flag for run in self.runs for flag in run_flags(run)]
        said: dict[str, list[str]] = {}
        for run in self.runs:
            for flag in [*_state_flags(run), *_mismatch_flags(run)]:
                said.setdefault(flag, []).append(run.run_id)
        shared = [f"{_which(ids)}: {flag}" for flag, ids in said.items()]
        return shared + _usage_flags(self.total)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "by": self.by,
            "runs": [_run_json(r) for r in self.runs],
            "total": self.total.to_json(),
            "rows": [{self.by: k, **t.to_json()} for k, t in self.rows.items()],
            "flags": self.flags(),
        }


def cost_report(paths: Iterable[Path], by: By = "agent") -> CostReport:
    """Read each run log once, in order, into one report.

    An agent, task or tool belongs to its crew: over runs of several crews, rows are keyed
    `crew/name`, so two crews' `scorer`s stay two rows (models are shared, and stay merged).

    Raises:
        LogFormatError: a log that cannot be read at all.
    """
    report, rows = CostReport(by), dict[tuple[str, str], Tally]()
    for path in paths:
        run = CostReport(by)
        infos = read_runs(path, _router(run, by), named=True)
        for info in infos:
            report.runs.append(info)
            report.total.merge(info.total)
        for key, tally in run.rows.items():
            rows.setdefault((infos[-1].crew, key), Tally()).merge(tally)
    named = by != "model" and len({crew for crew, _ in rows}) > 1
    for (crew, key), tally in rows.items():
        report.row(f"{crew}/{key}" if named else key).merge(tally)
    return report


Router = Callable[[ev.LlmCall | ev.ToolCallEvent], Tally | None]


def read_runs(path: Path, route: Router | None = None, *, named: bool = False) -> list[RunInfo]:
    """The runs of one file: a run log, or a file `mas export` wrote (one run per trace).
    `named`: see `read_run`."""
    if not is_exported(path):
        return [read_run(path, route, named=named)]
    from mas_cli.events.formats.exported import ExportedReader  # pydantic: only for these

    reader = ExportedReader(path)
    runs: dict[str, RunInfo] = {}
    finished: dict[str, ev.RunFinished] = {}
    for model in reader:
        event = ev.from_model(model)
        info = runs.setdefault(event.run_id, RunInfo(event.run_id, str(path)))
        if isinstance(event, ev.LlmCall | ev.ToolCallEvent):
            _count(info, event, route)
        elif isinstance(event, ev.RunFinished):
            finished[event.run_id] = event  # checked once all of the run's calls are in
        else:
            _note(info, event)
    for run_id, done in finished.items():
        _finish(runs[run_id], done)
    if named:
        check_read(path, len(runs), reader.skipped, reader.bad_lines)
    found = list(runs.values()) or [RunInfo(path.name, str(path))]
    found[0].skipped_lines, found[0].first_bad = reader.skipped, reader.first_bad
    return found


def read_run(path: Path, route: Router | None = None, *, named: bool = False) -> RunInfo:
    """Stream one log: its run info and total, and each call into the row `route` picks.

    Raises:
        LogFormatError: `named` (a log the user named, not one of many in a home) and not one
            of its lines is an event.
    """
    reader = StructReader(path)
    info = RunInfo(path.parent.name, str(path))
    finished: ev.RunFinished | None = None
    for event in reader:
        if isinstance(event, ev.LlmCall | ev.ToolCallEvent):
            _count(info, event, route)
        elif isinstance(event, ev.RunFinished):
            finished = event
        else:
            _note(info, event)
    info.skipped_lines, info.first_bad = reader.skipped, reader.first_bad
    if named:
        reader.check_read()
    if finished is not None:
        _finish(info, finished)
    return info


def _count(info: RunInfo, event: ev.LlmCall | ev.ToolCallEvent, route: Router | None) -> None:
    row = route(event) if route else None
    for tally in (info.total, row):
        if tally is None:
            continue
        if isinstance(event, ev.LlmCall):
            tally.add_llm_call(event, event.run_id)
        else:
            tally.add_tool_call(event, event.run_id)


def _note(info: RunInfo, event: ev.Event) -> None:
    if isinstance(event, ev.RunStarted):
        info.run_id, info.crew, info.started = event.run_id, event.crew, event.ts
        info.offline, info.replay_of = event.offline, event.replay_of
        info.resumed_from = event.resumed_from


def _finish(info: RunInfo, done: ev.RunFinished) -> None:
    info.finished = True
    info.status, info.reason, info.duration_s = done.status, done.reason, done.duration_s
    info.price_data_version = done.price_data_version
    info.mismatches = self_check(done, info.total)


def self_check(done: ev.RunFinished, total: Tally) -> list[Mismatch]:
    """run_finished's totals against the sums of the events; empty when they agree exactly."""
    pairs: list[tuple[str, object, object]] = [
        ("llm_calls", done.llm_calls, total.llm_calls),
        ("input_tokens", done.input_tokens, total.input_tokens),
        ("output_tokens", done.output_tokens, total.output_tokens),
        ("cache_read_tokens", done.cache_read_tokens, total.cache_read_tokens),
        ("cache_write_tokens", done.cache_write_tokens, total.cache_write_tokens),
        ("cost_usd", money(done.cost_usd), total.cost),
    ]
    return [Mismatch(name, _shown(a), _shown(b)) for name, a, b in pairs if a != b]


def _shown(value: object) -> str:
    return "unknown" if value is None else str(value)


def _router(report: CostReport, by: By) -> Router:
    """Which row each call counts in; a tool call under --by model goes to its turn's model."""
    models: dict[tuple[str, str | None], str] = {}

    def route(event: ev.LlmCall | ev.ToolCallEvent) -> Tally | None:
        key = _key(event, by, models)
        return report.row(key) if key is not None else None

    return route


def _key(
    event: ev.LlmCall | ev.ToolCallEvent, by: By, models: dict[tuple[str, str | None], str]
) -> str | None:
    if by == "tool":
        return event.tool if isinstance(event, ev.ToolCallEvent) else None
    if by != "model":
        return (event.agent if by == "agent" else event.task) or "(none)"
    where = (event.run_id, event.task)
    if isinstance(event, ev.LlmCall):
        models[where] = event.model
    return models.get(where, "(none)")


def run_flags(run: RunInfo) -> list[str]:
    """The warnings one run's figures come with."""
    return [*_state_flags(run), *_usage_flags(run.total), *_mismatch_flags(run)]


def _which(run_ids: list[str]) -> str:
    return run_ids[0] if len(run_ids) == 1 else f"{len(run_ids)} runs ({run_ids[0]}, ...)"


def _state_flags(run: RunInfo) -> list[str]:
    flags = []
    if not run.finished:
        flags.append(
            "not finished: the log has no run_finished (killed, or still running); "
            "figures are the events so far, with no totals to check them against"
        )
    if run.offline:
        flags.append(
            "offline run: costs are what the configured models would charge for estimated "
            "usage; the offline model's answers are short, so output is likely undercounted"
        )
    if run.skipped_lines:
        first = f" ({run.first_bad})" if run.first_bad else ""
        flags.append(f"{plural(run.skipped_lines, 'unreadable line')} skipped{first}")
    return flags


def _usage_flags(total: Tally) -> list[str]:
    flags = []
    if total.unpriced_calls:
        models = ", ".join(sorted(total.unpriced_models))
        flags.append(
            f"unknown cost: {total.unpriced_calls} of {total.llm_calls} model calls ({models}) "
            "have no price, so the cost shown is a lower bound (add them under prices:)"
        )
    if total.estimated_calls:
        flags.append(
            f"estimated usage: {total.estimated_calls} of {total.llm_calls} model calls have "
            "token counts estimated by mas, not reported by the provider"
        )
    return flags


def _mismatch_flags(run: RunInfo) -> list[str]:
    if run.skipped_lines:  # the events skipped are what is missing: nothing mas accepted failed
        return [
            f"self-check incomplete: run_finished says {m.field} {m.logged}, the events read "
            f"add up to {m.recomputed}, without the {plural(run.skipped_lines, 'line')} skipped"
            for m in run.mismatches
        ]
    return [
        f"self-check failed: run_finished says {m.field} {m.logged}, "
        f"the events add up to {m.recomputed}"
        for m in run.mismatches
    ]


def _run_json(run: RunInfo) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "path": run.path,
        "crew": run.crew,
        "started": run.started,
        "status": run.status,
        "reason": run.reason,
        "finished": run.finished,
        "duration_s": run.duration_s,
        "offline": run.offline,
        "price_data_version": run.price_data_version,
        "self_check": check_word(run),
        "mismatches": [vars(m) for m in run.mismatches],
        "skipped_lines": run.skipped_lines,
        "total": run.total.to_json(),
        **({"resumed_from": run.resumed_from} if run.resumed_from else {}),
    }


def check_word(run: RunInfo) -> str:
    """The self-check's verdict: `ok`, `failed`, `incomplete` (lines were skipped, and the
    events read do not add up) or `not finished`."""
    if not run.finished:
        return "not finished"
    if not run.mismatches:
        return "ok"
    return "incomplete" if run.skipped_lines else "failed"
