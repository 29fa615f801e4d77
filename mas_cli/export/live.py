"""`mas run --otel`: spans sent while the run goes, in batches, from threads of their own.

The run's events reach `LiveExport` as a listener (`Sink.listeners`), which only queues them:
a builder thread makes the spans (`spans.py`, then the SDK's) and hands each that ends to the
SDK's `BatchSpanProcessor`, whose worker thread sends batches to the endpoint. The run's own
thread never builds a span and never waits on the network: a collector that is down or hangs
costs the run nothing but the spans (the queues drop what does not fit). The first failed
batch becomes one `warning` event in the run's log; so does a collector that has not taken the
spans queued when the run is about to end (`settle`, waiting at most SETTLE_S). The closing
wait, for the run's own span, is bounded too (CLOSE_S).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mas_cli.events import models as ev
from mas_cli.export.endpoint import parse_endpoint, timeout_s
from mas_cli.export.otlp import LAST, http_exporter, readable, resource
from mas_cli.export.spans import SpanBuilder

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

REQUEST_S = 5.0  # one batch's request, retries included
SETTLE_S = 1.0  # before run_finished: the most the run waits for the spans queued so far
CLOSE_S = 3.0  # after it: the most the end of a run waits for its last spans
GIVE_UP_S = 0.2  # after it, once the export has failed: for the builder's last spans only
DELAY_MS = 500  # a batch leaves at least this often while the run goes
INBOX = 100_000  # events waiting for the builder thread; past that they are dropped

Warn = Callable[[str], None]


class _Watched:
    """The OTLP exporter, noting its first failure (for the run's log) and what it sent."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.failure: str | None = None
        self.sent = 0
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            result = self.inner.export(spans)
        except Exception as exc:  # a failed export never reaches the run
            result, LAST.message = SpanExportResult.FAILURE, type(exc).__name__
        with self.lock:
            if result is SpanExportResult.SUCCESS:
                self.sent += len(spans)
            elif self.failure is None:
                self.failure = LAST.why() or "the endpoint did not accept the spans"
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:  # noqa: ARG002 - the SDK's signature
        return True


class LiveExport:
    """A run listener that exports the run's spans as they end."""

    def __init__(
        self,
        endpoint: str,
        *,
        request_s: float | None = None,
        source: str = "--otel-endpoint",
        as_is: bool = False,
    ) -> None:
        """Raises UsageError: the endpoint, or a header to send to it, is not valid."""
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.endpoint = parse_endpoint(endpoint, source=source, as_is=as_is)
        request_s = request_s if request_s is not None else timeout_s(REQUEST_S)
        LAST.reset()  # what an earlier export in this process heard is not this one's trouble
        self.builder = SpanBuilder()
        self.exporter = _Watched(http_exporter(self.endpoint, request_s))
        self.processor = BatchSpanProcessor(
            self.exporter,  # type: ignore[arg-type]
            schedule_delay_millis=DELAY_MS,
            export_timeout_millis=request_s * 1000,
        )
        self.resource = resource()
        self.warn: Warn | None = None
        self.warned = False
        self.inbox: queue.Queue[ev.Event | None] = queue.Queue(INBOX)
        self.made = 0  # spans handed to the processor (the builder thread counts them)
        self.builder_thread = threading.Thread(target=self._build, name="mas-otel", daemon=True)
        self.builder_thread.start()

    def attach(self, warn: Warn) -> None:
        """How to write a warning into the run's log (the engine gives it once the log is open)."""
        self.warn = warn

    def __call__(self, event: ev.Event) -> None:
        try:
            self.inbox.put_nowait(event)
        except queue.Full:
            self._failed(f"spans are made slower than the run goes; events past {INBOX} dropped")
        self._warn_once()

    def _build(self) -> None:
        """The builder thread: events to spans to the processor, until None comes."""
        while (event := self.inbox.get()) is not None:
            try:
                for span in self.builder.add(event):
                    self.processor.on_end(readable(span, self.resource))
                    self.made += 1
            except Exception as exc:  # a span that cannot be made never reaches the run
                self._failed(f"a span could not be made ({type(exc).__name__}: {exc})")
            finally:
                self.inbox.task_done()
        for span in self.builder.finish():
            self.processor.on_end(readable(span, self.resource))
            self.made += 1
        self.inbox.task_done()

    def _failed(self, why: str) -> None:
        with self.exporter.lock:
            self.exporter.failure = self.exporter.failure or why

    def settle(self, wait_s: float = SETTLE_S) -> None:
        """The run is about to end: wait a little for what is queued, and say in the log if the
        collector did not take it."""
        if not _within(self._flush, wait_s):
            self._failed(_no_answer(wait_s))
        self._check_dropped()
        self._warn_once()

    def _check_dropped(self) -> None:
        """Every span made is sent by now, or the processor's queue dropped some (a collector
        slower than the run, caught up since): say so, as for any other trouble."""
        with self.exporter.lock:
            lost = self.made - self.exporter.sent
        if lost > 0:
            self._failed(
                f"{lost:,} of {self.made:,} spans were dropped: the collector took them slower "
                "than the run made them"
            )

    def _flush(self) -> None:
        self.inbox.join()
        self.processor.force_flush()

    def _warn_once(self) -> None:
        if self.exporter.failure and not self.warned and self.warn is not None:
            self.warned = True  # before warning: the warning comes back here as an event
            self.warn(self.message())

    def message(self) -> str:
        """What went wrong, for the log and the terminal."""
        why = self.endpoint.scrub(self.exporter.failure or "")
        return (
            f"OpenTelemetry export to {self.endpoint.shown} failed ({why}); the run goes "
            "on without it. Send the spans later with: mas export RUN_ID --endpoint URL"
        )

    def close(self, wait_s: float = CLOSE_S) -> str | None:
        """Send what is left, waiting at most `wait_s`; a failure's message, or None. Once the
        export has failed (the run's log says so, and to send the spans later), nothing more is
        waited for: a collector that is down costs the run's end no more than SETTLE_S."""
        try:
            self.inbox.put(None, timeout=wait_s)  # the builder closes what is open, and stops
        except queue.Full:
            self._failed(f"spans are made slower than the run goes; {INBOX} events left")
        with self.exporter.lock:
            failed = self.exporter.failure is not None
        if failed:
            self.exporter.inner.shutdown()  # its retries stop; what is queued is not sent
            wait_s = min(wait_s, GIVE_UP_S)  # a request hung on the socket is not waited for
        if not _within(self._shut, wait_s) and not failed:  # the processor sends what is queued
            self._failed(_no_answer(wait_s))
            self.exporter.inner.shutdown()  # stops its retries; the process may exit
        self._check_dropped()
        return self.message() if self.exporter.failure else None

    def _shut(self) -> None:
        self.builder_thread.join()
        self.processor.shutdown()  # type: ignore[no-untyped-call]


def _within(work: Callable[[], object], wait_s: float) -> bool:
    """Run `work` on a daemon thread; whether it finished within `wait_s`."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(wait_s)
    return not thread.is_alive()


def _no_answer(wait_s: float) -> str:
    said = f": {LAST.why()}" if LAST.why() else ""
    return f"the collector did not take the spans within {wait_s:g} s{said}"
