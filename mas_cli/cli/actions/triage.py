"""`mas triage loops`: find loops in agent logs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from mas_cli.cli.actions.batches import batch_logs, chosen_batch
from mas_cli.cli.exits import EXIT_GATE, EXIT_OK, EXIT_USAGE, output_format
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.triage.report import LoopReport
    from mas_cli.triage.thresholds import Thresholds

LOOPS_FORMATS = ("table", "json", "md")
RUN_ID = re.compile(r"\d{8}T\d{0,9}(-[0-9a-f]{0,6})?$")  # `20261206T141141018-019644`
FailOn = ("warning", "error")


def _logs(
    logs: list[str], home: Path | None, batch: str | None, last_batch: bool, last: bool
) -> list[str]:
    """The logs given (a run id names its run's log), the last run's, or the run logs of the
    batch named (its items' last runs)."""
    from mas_cli.errors import UsageError
    from mas_cli.events.store import home_dir, resolve_log

    view = chosen_batch(home, batch, last_batch)
    if last:
        if logs or view is not None:
            raise UsageError("--last reads the last run alone", hint="drop --last, or the others")
        return [str(resolve_log(home_dir(home), None, last=True))]
    logs = [
        str(resolve_log(home_dir(home), log, last=False)) if _run_id(log) else _folder(log)
        for log in logs
    ]
    if view is not None:
        return _once([*logs, *map(str, batch_logs(home, view))])
    if not logs:
        raise UsageError(
            "name a log to read", hint="mas triage loops LOG, --last, or --batch BATCH_ID"
        )
    return _once(logs)


def _once(logs: list[str]) -> list[str]:
    """Each log once, however many times it was named (a run's folder and its events.jsonl, a
    run and its batch): read twice, every count and finding would be doubled."""
    seen: set[object] = set()
    kept = []
    for log in logs:
        try:
            stat = Path(log).stat() if log != "-" else None
        except OSError:  # the reader says what is wrong with it
            stat = None
        key = (stat.st_dev, stat.st_ino) if stat is not None else log
        if key not in seen:
            seen.add(key)
            kept.append(log)
    return kept


def _folder(log: str) -> str:
    """A run's folder names its log; another folder is a usage error that says what to name."""
    from mas_cli.errors import UsageError

    path = Path(log)
    if log == "-" or not path.is_dir():
        return log
    if (path / "events.jsonl").is_file():
        return str(path / "events.jsonl")
    runs = next(path.glob("*/events.jsonl"), None) is not None  # the runs folder, say
    logs = path / "*" / "events.jsonl" if runs else path / "*.jsonl"
    raise UsageError(
        f"{log}: a folder, not a log",
        hint=f"name the logs in it ({logs}), or a run's folder (it holds events.jsonl)",
    )


def _run_id(ref: str) -> bool:
    """A run id or its prefix (`20261206T1411`), not a file: the user named a run."""
    return ref != "-" and RUN_ID.match(ref) is not None and not Path(ref).exists()


def loops(
    *,
    logs: list[str] | None,
    log_format: str,
    pattern: str | None,
    threshold: list[str] | None,
    crew: Path | None,
    fmt: str,
    json_out: bool,
    fail_on: str,
    follow: bool,
    exit_on: str | None,
    on_finding: str | None,
    last: bool,
    batch: str | None,
    last_batch: bool,
    home: Path | None,
) -> int:
    """Scan the logs (or follow one) and report; exit 1 at a finding at or above fail_on."""
    from mas_cli.cli.render.triage import SHOWN, loops_report
    from mas_cli.errors import UsageError
    from mas_cli.events.formats import check_format
    from mas_cli.events.formats.text import compile_pattern
    from mas_cli.triage.findings import RANK
    from mas_cli.triage.scan import ScanOptions, scan

    out = output_format(fmt, json_out, LOOPS_FORMATS)
    logs = _logs(logs or [], home, batch, last_batch, last)
    if fail_on not in FailOn:
        raise UsageError(f"--fail-on {fail_on!r} is not known", hint="use warning or error")
    check_format(log_format)
    if pattern and log_format not in ("auto", "text"):
        raise UsageError(
            f"--pattern reads text logs, not {log_format}", hint="drop --log-format or --pattern"
        )
    if follow or exit_on or on_finding:
        if not follow:
            raise UsageError("--exit-on and --on-finding act on a live log", hint="add --follow")
        return _follow(
            logs, out, exit_on, on_finding, log_format, pattern, _thresholds(crew, threshold or [])
        )
    options = ScanOptions(
        fmt=log_format,
        pattern=compile_pattern(pattern) if pattern else None,
        thresholds=_thresholds(crew, threshold or []),
        keep=None if out == "json" else SHOWN,  # a table shows the costliest: memory stays flat
        rates_per_source=bool(batch or last_batch),  # items run at once: each run judged alone
    )
    report = scan(logs, options)
    if report.records == 0:
        _nothing_readable(report, logs)
    loops_report(report, out)
    if report.unreadable():
        _mostly_unreadable(report)
    return EXIT_GATE if report.worst() >= RANK[fail_on] else EXIT_OK


def _follow(
    logs: list[str],
    out: str,
    exit_on: str | None,
    on_finding: str | None,
    fmt: str,
    pattern: str | None,
    th: Thresholds,
) -> int:
    from mas_cli.cli.render.follow import follow_live
    from mas_cli.errors import UsageError
    from mas_cli.events.formats.text import compile_pattern
    from mas_cli.triage.findings import RANK
    from mas_cli.triage.follow import FollowOptions

    if len(logs) != 1 or out == "md" or exit_on not in (None, *FailOn):
        raise UsageError(
            "--follow watches one log, as a table or --json; --exit-on takes warning or error",
            hint="e.g. mas triage loops app.log --follow --exit-on error",
        )
    rank = RANK[exit_on] if exit_on else 0
    options = FollowOptions(fmt, compile_pattern(pattern) if pattern else None, th, rank)
    summary = follow_live(logs[0], options, out == "json", on_finding)
    if summary.tripped:
        return EXIT_GATE
    return EXIT_USAGE if summary.unreadable else EXIT_OK  # never a clean exit on unread lines


def _thresholds(crew: Path | None, overrides: list[str]) -> Thresholds:
    from mas_cli.triage.thresholds import build

    if crew is None:
        return build(None, overrides)
    from mas_cli.spec.loader import load_crew  # pydantic and the crew models: only when asked

    return build(load_crew(crew).spec.triage.model_dump(exclude_none=True), overrides)


def _nothing_readable(report: LoopReport, logs: list[str]) -> None:
    from mas_cli.cli.render.triage import bad_lines
    from mas_cli.errors import LogFormatError

    bad_lines(report)
    cut = [i for i in report.inputs if i.ended_early]
    if cut:  # not empty, not a format to name: a file cut short
        named = ", ".join(i.path for i in cut)
        raise LogFormatError(
            f"{named}: the gzip stream ends early, with no record whole before the cut",
            hint="it was cut short, by a copy or a download that did not finish or a full disk: "
            "get it whole again; `gzip -t FILE` tells whether a copy is whole",
        )
    if all(not i.lines and not i.skipped for i in report.inputs):  # not a format to name
        named = ", ".join("standard input" if i.path == "-" else i.path for i in report.inputs)
        raise LogFormatError(
            f"{named}: empty, or only blank lines: nothing to read",
            hint="check that it is the log being written; for a pipe, that its writer wrote to it",
        )
    raise LogFormatError(
        f"nothing readable in {', '.join(logs)}",
        hint="is it a mas, OTLP JSON, Jaeger, Langfuse, OpenAI Agents, chat, SWE-agent, "
        "OpenHands or text log? name it with --log-format, "
        "or describe text lines with --pattern",
    )


def _mostly_unreadable(report: LoopReport) -> None:
    from mas_cli.cli.render.triage import skipped
    from mas_cli.errors import LogFormatError

    bad = report.unreadable()
    said = [
        f"{'standard input' if i.path == '-' else i.path} read as {i.fmt}: "
        f"{skipped(i)}, {plural(i.records, 'record')}"
        for i in bad
    ]
    hint = (
        "repair the document where reading stopped (its line is above), or leave it out"
        if all(i.cut_short for i in bad)
        else "name the format with --log-format, describe text lines with --pattern, "
        "or leave that input out"
    )
    raise LogFormatError("the verdict is unreadable, not clean: " + "; ".join(said), hint=hint)
