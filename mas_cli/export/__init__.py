"""`mas export`: runs as OpenTelemetry traces, to an OTLP JSON file or an OTLP/HTTP endpoint.

A reader like triage and cost: it reads run logs and never imports the engine, providers or
tools. `spans.py` turns events into spans (no OpenTelemetry import), `otlp.py` hands them to
the official SDK and its exporter, `live.py` does the same while a run goes (`mas run --otel`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mas_cli.errors import MasError, UsageError
from mas_cli.events.diskio import refuse_overwriting, why
from mas_cli.events.reader import LogReader
from mas_cli.export.content import LLM_LOG, Contents
from mas_cli.export.endpoint import parse_endpoint, timeout_s
from mas_cli.export.spans import spans_of

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan

Deliver = Callable[[list["ReadableSpan"]], None]

BATCH_SPANS = 512  # spans per export request (per line of the file)
ENDPOINT_TIMEOUT_S = 10.0


@dataclass
class ExportSummary:
    """What was exported, and where."""

    runs: int
    spans: int
    target: str
    skipped_lines: int = 0
    first_bad: str = ""
    """The first line skipped, as `path:line: why`."""


def export_runs(
    paths: list[Path],
    *,
    to: Path | None = None,
    endpoint: str | None = None,
    content: bool = False,
) -> ExportSummary:
    """Export each run as one trace: to a file (`-` or None: stdout) or an endpoint.

    Raises:
        ExportError: the endpoint did not take a batch.
        LogFormatError: a log that cannot be read.
        UsageError: the file cannot be written, or the endpoint or its headers are not valid.
    """
    from mas_cli.export import otlp

    where = otlp.resource()
    otlp.quiet_sdk_logs()  # the SDK's complaints are ours to say, never a traceback
    if endpoint:
        to_url = parse_endpoint(endpoint)
        exporter = otlp.http_exporter(to_url, timeout_s(ENDPOINT_TIMEOUT_S))
        try:
            summary = _each_batch(paths, content, where, lambda b: otlp.send(exporter, b, to_url))
        finally:
            exporter.shutdown()
        summary.target = to_url.shown
        return summary
    if to is not None and str(to) != "-":
        inputs = [*paths, *(p.parent / LLM_LOG for p in paths if content)]
        refuse_overwriting(to, inputs, "--to")
    target = str(to) if to and str(to) != "-" else "stdout"
    try:
        with _output(to) as out:
            summary = _each_batch(paths, content, where, lambda b: otlp.write_lines(out, b))
    except BrokenPipeError:
        raise  # the reader took what it wanted (`| head`): the CLI exits 0
    except OSError as exc:  # a full disk, a device that takes nothing
        raise MasError(
            f"cannot write {target}: {why(exc)}",
            hint="free some space, or write elsewhere with --to FILE.jsonl",
        ) from None
    summary.target = target
    return summary


def _each_batch(
    paths: list[Path], content: bool, where: Resource, deliver: Deliver
) -> ExportSummary:
    """Read the runs one after the other; hand the spans over BATCH_SPANS at a time."""
    from mas_cli.export.otlp import readable

    summary = ExportSummary(runs=0, spans=0, target="")
    batch: list[ReadableSpan] = []
    for path in paths:
        reader = LogReader(path)
        contents = Contents(path.parent) if content else None
        for span in spans_of(reader, content=content, contents=contents):
            batch.append(readable(span, where))
            if len(batch) >= BATCH_SPANS:
                deliver(batch)
                summary.spans, batch = summary.spans + len(batch), []
        reader.check_read()
        summary.runs += 1
        summary.skipped_lines += reader.skipped
        summary.first_bad = summary.first_bad or reader.first_bad
        if contents is not None:
            contents.close()
    if batch:
        deliver(batch)
        summary.spans += len(batch)
    return summary


@contextmanager
def _output(to: Path | None) -> Iterator[IO[str]]:
    if to is None or str(to) == "-":
        yield sys.stdout
        return
    try:
        handle = to.open("w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {to}: {exc.strerror}", hint="give a path in a folder you can write"
        ) from None
    with handle:
        yield handle
