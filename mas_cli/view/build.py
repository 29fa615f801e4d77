"""Build a run's view: read the log, ask the triage core for its findings, write the page.

The file is written beside the run (`<run folder>/view.html`) unless another path is given,
through a temporary file renamed into place, so a reader never sees half a page.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from mas_cli.errors import MasError
from mas_cli.events.diskio import refuse_overwriting
from mas_cli.events.text import fix_text
from mas_cli.events.transcript import LLM_LOG, read_transcript
from mas_cli.triage.findings import Finding
from mas_cli.triage.scan import ScanOptions, scan
from mas_cli.view.page import run_page
from mas_cli.view.read import Run, moment, read_run
from mas_cli.view.timeline import Band

VIEW = "view.html"
MAX_TEXT = 20_000
"""A text, arguments or result longer than this (in characters) is cut in the page."""


def run_html(log: Path, include_content: bool = False) -> tuple[str, Run, list[Finding]]:
    """The page of the run whose log is `log`, the run read, and its findings."""
    run = read_run(log, named=True)
    findings, note = run_findings(log)
    if include_content:
        add_content(run, log)
    bands = [_band(i, f, run.started) for i, f in enumerate(findings)]
    return run_page(run, findings, bands, note), run, findings


def write_run_view(log: Path, out: Path | None = None, include_content: bool = False) -> Path:
    """Write the run's page (beside the run unless `out`); its path."""
    if out is not None:
        refuse_overwriting(out, [log, log.parent / LLM_LOG], "--out")
    page, _, _ = run_html(log, include_content)
    target = out or log.parent / VIEW
    write_atomic(target, page)
    return target


def run_findings(log: Path) -> tuple[list[Finding], str]:
    """What `mas triage loops` finds in this run, or why it could not look."""
    try:
        report = scan([str(log)], ScanOptions(workers=1))
    except (MasError, OSError) as exc:
        return [], f"mas triage loops could not read this log: {exc}"
    return report.findings, ""


def _band(index: int, finding: Finding, started: datetime | None) -> Band:
    start, end = _offset(finding.first_ts, started), _offset(finding.last_ts, started)
    label = f"F{index + 1} {finding.detector}: {finding.message}"
    return Band(index, start, max(end, start), finding.blamed, finding.task, label)


def _offset(ts: str, started: datetime | None) -> float:
    when = moment(ts)
    return max(0.0, (when - started).total_seconds()) if started and when else 0.0


def add_content(run: Run, log: Path) -> None:
    """Add each call's words (model text, tool arguments and result) from the recording."""
    words = read_transcript(log)
    for call in run.calls:
        d = call.detail
        task = str(d.get("task"))
        if call.kind == "llm":
            where = (task, int(d.get("turn") or 0), int(d.get("attempt") or 1))
            _put(d, "text", words.texts.get(where))
        else:
            key = (task, str(d.get("tool_call_id")))
            _put(d, "arguments", words.arguments.get(key))
            _put(d, "result", words.results.get(key))


def _put(detail: dict[str, Any], name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, indent=2)
    value = fix_text(value)  # an edited recording's lone surrogate: U+FFFD, never a failed page
    if len(value) > MAX_TEXT:
        value = value[:MAX_TEXT] + f"\n[cut at {MAX_TEXT:,} of {len(value):,} characters]"
    detail[name] = value


def write_atomic(target: Path, text: str) -> None:
    """Write `text` to `target` whole or not at all: a new file renamed into place. A link is
    followed (the file it names is replaced, the link kept); a pipe or a device
    (`--out /dev/stdout`) is written into, never replaced by a file."""
    if target.exists() and not target.is_file():
        _write_into(target, text)
        return
    target = target.resolve() if target.is_symlink() else target
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".view-", suffix=".tmp", dir=target.parent)
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        tmp.chmod(0o644)  # a page to open and share, like any file written by hand
        tmp.replace(target)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise MasError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="name another file with --out FILE",
        ) from None


def _write_into(target: Path, text: str) -> None:
    try:
        with target.open("w", encoding="utf-8") as out:
            out.write(text)
    except BrokenPipeError:
        raise  # the reader took what it wanted (`| head`): the CLI exits 0
    except OSError as exc:
        raise MasError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="name another file with --out FILE",
        ) from None
