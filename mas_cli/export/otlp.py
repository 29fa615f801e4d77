"""Our spans as OpenTelemetry's, and the two ways out: an OTLP JSON file, an OTLP/HTTP endpoint.

The SDK and the exporter are imported here only, on the path that exports, so `mas --help`
never loads them. The file is what the OpenTelemetry collector's file exporter writes: one
`ExportTraceServiceRequest` in OTLP JSON per line (hex ids, integer enums, 64-bit integers as
strings), encoded by the SDK's own OTLP encoder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from mas_cli import __version__
from mas_cli.errors import ExportError
from mas_cli.events.text import fix_text
from mas_cli.export.endpoint import Endpoint
from mas_cli.export.spans import Span

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

SCOPE = "mas"
ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def resource() -> Resource:
    """Who made the spans: the `mas` service."""
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": "mas", "service.version": __version__})


def readable(span: Span, where: Resource) -> ReadableSpan:
    """Our span as the SDK's (ids, times, status and events exactly as the log has them)."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanKind, Status, StatusCode

    status = Status(StatusCode.ERROR, span.error) if span.error else Status(StatusCode.UNSET)
    return ReadableSpan(
        name=span.name,
        context=_context(span.trace_id, span.span_id),
        parent=_context(span.trace_id, span.parent_id) if span.parent_id else None,
        resource=where,
        attributes=_fitted(span.attributes),
        events=[Event(e.name, _fitted(e.attributes), e.time_ns) for e in span.events],
        kind=SpanKind.CLIENT if span.kind == "client" else SpanKind.INTERNAL,
        status=status,
        start_time=span.start_ns,
        end_time=span.end_ns,
        instrumentation_scope=InstrumentationScope(SCOPE, __version__),
    )


INT64 = range(-(1 << 63), 1 << 63)


def _fitted(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes with an integer past OTLP's 64 bits (only a tampered log has one) as a
    double, and a lone surrogate in a text (an edited recording's `\\ud800`) as U+FFFD: the
    SDK's encoder would drop either, logging a traceback, or fail the whole request."""
    return {
        key: float(value)
        if type(value) is int and value not in INT64
        else fix_text(value)
        if type(value) is str
        else value
        for key, value in attributes.items()
    }


def _context(trace_id: str, span_id: str) -> Any:
    from opentelemetry.trace import SpanContext, TraceFlags

    return SpanContext(
        _id(trace_id, 128), _id(span_id, 64), is_remote=False, trace_flags=TraceFlags(1)
    )


def _id(text: str, bits: int) -> int:
    """A log's hex id as OpenTelemetry's integer; anything else (a hand-edited log) is hashed
    to a stable id of the right size, so its links still hold."""
    try:
        value = int(text, 16) if len(text) == bits // 4 else 0
    except ValueError:
        value = 0
    if 0 < value < 1 << bits:
        return value
    digest = hashlib.sha256(text.encode()).digest()[: bits // 8]
    return int.from_bytes(digest, "big") or 1


def json_line(spans: Sequence[ReadableSpan]) -> str:
    """One OTLP JSON export request holding these spans, as one line (with its newline)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in request.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_ids(span)
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False) + "\n"


def _hex_ids(span: dict[str, Any]) -> None:
    """Protobuf's JSON has bytes in base64; OTLP JSON has trace and span ids in hex."""
    for name in ID_FIELDS:
        if span.get(name):
            span[name] = base64.b64decode(span[name]).hex()


def write_lines(out: IO[str], spans: Sequence[ReadableSpan]) -> None:
    """Append one export line (nothing for no spans)."""
    if spans:
        out.write(json_line(spans))


CREDENTIAL_PROVIDERS = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)


def http_exporter(endpoint: Endpoint, timeout_s: float) -> SpanExporter:
    """The SDK's OTLP/HTTP (protobuf) exporter; headers from OTEL_EXPORTER_OTLP_HEADERS. Its
    HTTP session notes each refusal's status (the SDK's own messages often drop it), unless
    the environment names a credential provider, whose session the SDK then makes."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    quiet_sdk_logs()
    session = None
    if not any(os.environ.get(name) for name in CREDENTIAL_PROVIDERS):
        import requests

        session = requests.Session()
        session.hooks["response"].append(LAST.answered)
    return OTLPSpanExporter(endpoint=endpoint.url, timeout=timeout_s, session=session)


class _LastMessage(logging.Handler):
    """Keeps the SDK's last complaint, the first cause it gave (its text only: no traceback
    ever reaches a user) and the collector's last refusal. The last complaint is often only
    "due to timeout, max retries or shutdown", or a retry's warning: the cause is in the
    retries' warnings before it, or in the collector's answer (`HTTP 503 Service Unavailable`)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.message = ""
        self.cause = ""
        self.answer = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.message = record.getMessage()
        error = next((a for a in record.args or () if isinstance(a, BaseException)), None)
        if error is not None and not self.cause:
            self.cause = _cause(error)

    def answered(self, response: Any, *_: Any, **__: Any) -> None:
        """The session's response hook: note a refusal (a status of 400 or more)."""
        if response.status_code >= 400:
            reason = str(response.reason or "")[:200]
            after = str(response.headers.get("retry-after") or "")[:40]
            self.answer = f"HTTP {response.status_code} {reason}".rstrip()
            self.answer += f", Retry-After: {after}" if after else ""

    def reset(self) -> None:
        self.message = self.cause = self.answer = ""

    def too_large(self) -> bool:
        """Whether the last request was refused for its size."""
        return self.answer.startswith("HTTP 413") or "exceeds max_request_size" in self.message

    def why(self) -> str:
        """What went wrong, in a few words ("" when the SDK said nothing)."""
        said = self.message.rstrip(".")
        gave_up = "timeout, max retries" in said
        cause = self.answer or self.cause
        if not cause:
            return "no answer within the export's timeout" if gave_up else said
        if gave_up or not said:
            return f"{cause} (retried until the export's timeout)"
        return f"{cause} (retrying)" if said.startswith("Transient error") else cause


_PLAINLY = (
    ("RemoteDisconnected", "the collector closed the connection without answering"),
    ("BadStatusLine", "the collector's answer is not HTTP"),
    ("Read timed out", "no answer within the export's timeout"),
)


def _cause(error: BaseException) -> str:
    """`connection refused`, not a chain of the HTTP library's wrappers around it."""
    said = str(error)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", said)
    if errno:
        return errno[1].strip().lower()
    plain = next((words for mark, words in _PLAINLY if mark in said), None)
    if plain:
        return plain
    return f"{type(error).__name__}: {said[:200]}" if said else type(error).__name__


LAST = _LastMessage()


def quiet_sdk_logs() -> None:
    """The SDK logs failures with tracebacks through `logging`; keep them, say them our way."""
    logger = logging.getLogger("opentelemetry")
    if LAST not in logger.handlers:
        logger.addHandler(LAST)
    logger.propagate = False


def send(exporter: SpanExporter, spans: Sequence[ReadableSpan], endpoint: Endpoint) -> None:
    """Export one batch, or raise. A batch the collector refuses as too large (413, or past
    the exporter's own 64 MiB) is sent in halves, down to one span a request.

    Raises:
        ExportError: the endpoint did not take the batch.
    """
    from opentelemetry.sdk.trace.export import SpanExportResult

    LAST.reset()
    if exporter.export(spans) is not SpanExportResult.SUCCESS:
        if len(spans) > 1 and LAST.too_large():  # the collector's limit on a request's size
            half = len(spans) // 2
            send(exporter, spans[:half], endpoint)
            send(exporter, spans[half:], endpoint)
            return
        why = LAST.why() or "the endpoint did not accept the spans"
        raise ExportError(
            f"cannot export to {endpoint.shown}: {endpoint.scrub(why)}. Check that an OTLP/HTTP "
            "receiver listens there (the collector's port is 4318), or write a file instead "
            "with --to FILE.jsonl"
        )
