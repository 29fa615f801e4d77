"""Plain text logs: a default pattern for the common layouts, or `--pattern REGEX`.

The default understands `key=value` pairs anywhere in a line (`agent_run agent=scorer
iteration=7 tokens=812`), a leading timestamp, and the common Python logging layout
`%(asctime)s [%(trace_id)s] %(levelname)s %(name)s — %(message)s`, whose logger name gives the
agent when no `agent=` says otherwise. A custom pattern names its groups: `ts`, `trace`,
`agent`, `task`, `tool`, `tokens` (and, if it likes, `model`, `args`, `output`, `error`, `turn`,
`event`). A line the pattern does not match is counted as unreadable, and so is a line past
MAX_TEXT_LINE_BYTES (1 MiB), which is skipped unread. The default pattern runs in time linear
in the line: a `key=` starts only where a word starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from mas_cli.errors import UsageError
from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Limit,
    Message,
    ModelCall,
    Record,
    ToolCallRecord,
    shaped,
)
from mas_cli.events.formats.source import BadLines

MAX_TEXT_LINE_BYTES = 1 << 20

TS = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
LAYOUT = re.compile(
    rf"^(?P<ts>{TS})\s+\[(?P<trace>[^\]]*)\]\s+(?P<level>[A-Z]+)\s+(?P<logger>\S+)\s+[—–-]+\s+(?P<message>.*)$"
)
LEADING_TS = re.compile(rf"^\s*\[?(?P<ts>{TS})\]?")
# Not inside a word: tried at every letter of a 100 KB word, the key took 41 s (quadratic).
PAIR = re.compile(r"""(?<![\w.])(?P<key>[A-Za-z_][\w.]*)=(?P<value>"[^"]*"|'[^']*'|[^\s,;]+)""")
ALIASES = {
    "trace_id": "trace",
    "run_id": "trace",
    "run": "trace",
    "agent_name": "agent",
    "task_id": "task",
    "tool_name": "tool",
    "function": "tool",
    "input_tokens": "tokens",
    "prompt_tokens": "tokens",
    "iteration": "turn",
    "step": "turn",
    "arguments": "args",
    "result": "output",
    "response": "output",
    "answer": "output",
    "from_agent": "from",
    "to_agent": "to",
    "exception": "error",
    "model_name": "model",
}
LIMIT_WORDS = (
    "limit_hit",
    "maxturnsexceeded",
    "max_turns reached",
    "limit reached",
    "circuit breaker",
)
CONTINUES = re.compile(
    r"\s|Traceback \(most recent call last\):|During handling of the above exception|"
    r"The above exception was the direct cause|Caused by: |\.\.\. \d+ more|"
    r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Exceeded|Timeout)(?::|$)"
)
"""How the lines of a traceback or a stack trace after a record begin."""
JSON_KEYS = {
    "timestamp": "ts",
    "time": "ts",
    "@timestamp": "ts",
    "asctime": "ts",
    "msg": "message",
    "levelname": "level",
    "name": "logger",
    "logger_name": "logger",
}
"""How JSON log lines name the fields a text line's layout gives (see `_json_fields`)."""
_JSON = msgspec.json.Decoder()
_LOGGED = {"msg", "message", "event"}
"""What a JSON log line has that other JSON lines seldom do: its message."""
AGENT_WORDS = ("agent_run", "agent_start", "agent_step", "invoke_agent")
MODEL_WORDS = ("llm_call", "model_call", "completion", "chat.completions")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A user's --pattern, checked.

    Raises:
        UsageError: it is not a regular expression, or names none of the known groups.
    """
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise UsageError(
            f"--pattern is not a valid regular expression: {exc}", hint="quote it for the shell"
        ) from None
    known = {
        "ts",
        "trace",
        "agent",
        "task",
        "tool",
        "tokens",
        "model",
        "args",
        "output",
        "error",
        "turn",
        "event",
    }
    if not known & set(compiled.groupindex):
        raise UsageError(
            "--pattern names none of the groups mas reads",
            hint="use named groups such as (?P<agent>\\w+), (?P<tool>\\w+), (?P<tokens>\\d+)",
        )
    return compiled


def read_text(
    lines: Iterable[tuple[int, bytes]],
    source: str,
    bad: BadLines,
    pattern: re.Pattern[str] | None = None,
) -> Iterator[tuple[int, Record]]:
    """Records from the lines of a text log. The lines a record's traceback or stack trace
    goes on with (indented, or Python's and Java's own headers and last line) belong to it:
    they are neither records nor skipped."""
    in_record = False
    for number, raw in lines:
        if len(raw) > MAX_TEXT_LINE_BYTES:
            bad.add(source, number, f"longer than {MAX_TEXT_LINE_BYTES:,} bytes: skipped")
            in_record = False
            continue
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not text.strip():
            continue
        fields = _custom(text, pattern) if pattern else _default(text)
        if fields is None:
            if in_record and CONTINUES.match(text):
                continue
            bad.add(
                source,
                number,
                "does not match the pattern" if pattern else "no timestamp, fields or known layout",
            )
            in_record = False
            continue
        in_record = True
        record = to_record(fields, text)
        if record is not None:
            yield number, record


def _custom(text: str, pattern: re.Pattern[str]) -> dict[str, str] | None:
    match = pattern.search(text)
    if match is None:
        return None
    return {k: v for k, v in match.groupdict().items() if v is not None}


def _default(text: str) -> dict[str, str] | None:
    if text.startswith("{") and (found := _json_fields(text)) is not None:
        return found
    fields: dict[str, str] = {}
    layout = LAYOUT.match(text)
    if layout:
        fields.update(ts=layout["ts"], trace=layout["trace"], logger=layout["logger"])
        message = layout["message"]
    else:
        leading = LEADING_TS.match(text)
        if leading:
            fields["ts"] = leading["ts"]
        message = text
    pairs = {
        ALIASES.get(m["key"].lower(), m["key"].lower()): m["value"].strip("\"'")
        for m in PAIR.finditer(message)
    }
    if not fields and not pairs:
        return None
    fields["message"] = message
    return fields | pairs


def _json_fields(text: str) -> dict[str, str] | None:
    """The fields of a JSON log line (structlog, pino, python-json-logger: one object a line),
    read as `key=value` pairs are: its top-level keys, named as the aliases and JSON_KEYS say;
    an object or a list as compact JSON (a tool's arguments); an epoch time as ISO 8601."""
    try:
        value = _JSON.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not isinstance(value, dict) or not _LOGGED.intersection(map(str.lower, value)):
        return None  # JSON of some other shape (a tracer's): unreadable, not a log line
    fields: dict[str, str] = {}
    for key, item in value.items():
        name = JSON_KEYS.get(key.lower()) or ALIASES.get(key.lower(), key.lower())
        if isinstance(item, str):
            fields[name] = item
        elif isinstance(item, int | float) and not isinstance(item, bool):
            fields[name] = _epoch(item) if name == "ts" else str(item)
        elif isinstance(item, dict | list):
            fields[name] = msgspec.json.encode(item).decode()
    return {"message": text} | fields


def _epoch(seconds: float) -> str:
    """An epoch time (seconds, or pino's milliseconds) as ISO 8601."""
    if seconds > 1e11:
        seconds /= 1000
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return ""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_record(fields: dict[str, str], text: str) -> Record | None:  # noqa: PLR0911 - one per kind
    """The record one line's fields describe, or None when it names no agent, tool or event."""
    words = text.lower()
    common: dict[str, Any] = {
        "trace": fields.get("trace", ""),
        "agent": fields.get("agent") or _logger_agent(fields.get("logger", "")),
        "task": fields.get("task", ""),
        "ts": _iso(fields.get("ts", "")),
    }
    event = fields.get("event", "").lower()
    error = fields.get("error", "")
    if any(w in words for w in LIMIT_WORDS) or event == "limit":
        return Limit(
            **common,
            name=fields.get("limit", fields.get("kind", "limit")),
            message=fields.get("message", text)[:300],
        )
    if ("from" in fields and "to" in fields) or event == "handoff":
        return Handoff(
            **common, from_agent=fields.get("from", common["agent"]), to_agent=fields.get("to", "")
        )
    if fields.get("tool"):
        logged = fields.get("args") or _rest(fields)
        args, varied = shaped(logged) if logged else ("", "")  # "": the log shows no arguments
        return ToolCallRecord(
            **common,
            name=fields["tool"],
            turn=_int(fields.get("turn")),
            args=args,
            varied=varied,
            output=_digest(fields.get("output")),
            status="error" if error else "ok",
            error=error,
        )
    if (
        fields.get("tokens")
        or fields.get("model")
        or any(w in words for w in MODEL_WORDS)
        or event == "model"
    ):
        said, varied = shaped(fields["output"]) if fields.get("output") else ("", "")
        return ModelCall(
            **common,
            name=fields.get("model", ""),
            turn=_int(fields.get("turn")),
            input_tokens=_int(fields.get("tokens")),
            output_tokens=_int(fields.get("output_tokens") or fields.get("completion_tokens")),
            counted=any(k in fields for k in ("tokens", "output_tokens", "completion_tokens")),
            status="error" if error else "ok",
            error=error,
            output=said,
            varied=varied,
        )
    if any(w in words for w in AGENT_WORDS) or "turn" in fields or event == "agent":
        return AgentStart(**common, turn=_int(fields.get("turn"))) if common["agent"] else None
    if common["agent"]:
        said, varied = shaped(fields.get("output", fields.get("message", text)))
        return Message(
            **common,
            name=fields.get("event", ""),
            output=said,
            varied=varied,
            error=error,
        )
    return None


def _logger_agent(logger: str) -> str:
    return logger.rsplit(".", 1)[-1] if logger else ""


def _rest(fields: dict[str, str]) -> str:
    skip = {"ts", "trace", "agent", "task", "tool", "message", "logger", "turn", "output", "tokens"}
    skip |= {"level", "event"}
    return " ".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in skip)


def _digest(value: str | None) -> str:
    return shaped(value)[0] if value else ""


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def _iso(ts: str) -> str:
    return ts.replace(" ", "T", 1).replace(",", ".") if ts else ""
