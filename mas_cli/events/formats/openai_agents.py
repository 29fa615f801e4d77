"""The OpenAI Agents SDK's trace and span JSON: `{"object": "trace" | "trace.span", ...}`.

One object per line, or a batch `{"data": [...]}` per line as the SDK's exporter posts it.
A span is `{"id", "trace_id", "parent_id", "started_at", "ended_at", "span_data", "error"}` with
`span_data.type` one of agent, generation, response, function, handoff (others are skipped).
Spans are written when they end, so calls arrive before their agent span: `Attribution` holds
them until the agent is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from mas_cli.events.counts import token_count
from mas_cli.events.formats.frameworks import OPENAI_AGENTS
from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Limit,
    Message,
    ModelCall,
    Record,
    ToolCallRecord,
    repeat_digest,
    shaped,
)
from mas_cli.events.formats.source import SHAPE_ERRORS, BadLines
from mas_cli.events.formats.spans import Attribution, Located

LIMIT_WORDS = ("max turns", "maxturnsexceeded", "limit")
_ANY = msgspec.json.Decoder()


def read_openai_agents(
    lines: Iterable[tuple[int, bytes]], source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from OpenAI Agents SDK trace export lines."""
    attribution = Attribution()
    for number, line in lines:
        if line.strip():
            for item in _items(line, source, number, bad):
                try:
                    found = list(read_item(number, item, attribution))
                except SHAPE_ERRORS as exc:
                    bad.misshapen(source, number, exc)
                    continue
                yield from found
    yield from attribution.finish()


def _items(line: bytes, source: str, number: int, bad: BadLines) -> list[dict[str, Any]]:
    try:
        value = _ANY.decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:  # too deep to decode is bad too
        bad.add(source, number, f"not JSON ({exc})")
        return []
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        value = value["data"]
    items = value if isinstance(value, list) else [value]
    good = [i for i in items if isinstance(i, dict) and i.get("object") in ("trace", "trace.span")]
    if len(good) != len(items):
        bad.add(source, number, "not an OpenAI Agents trace or span object")
    return good


def read_item(number: int, item: dict[str, Any], attribution: Attribution) -> Iterator[Located]:
    """The records of one trace or span object (a document reader's too, see documents.py)."""
    if item.get("object") != "trace.span":
        return  # a trace object says when it started, not when (or whether) it finished
    data = item.get("span_data") or {}
    trace, span, parent = (
        str(item.get("trace_id", "")),
        str(item.get("id", "")),
        item.get("parent_id") or "",
    )
    attribution.span(trace, span, parent)
    common: dict[str, Any] = {"trace": trace, "ts": str(item.get("started_at") or ""), "span": span}
    error = _error(item)
    kind = data.get("type")
    if kind == "agent":
        name = str(data.get("name", ""))
        yield number, AgentStart(**common, agent=name, framework=OPENAI_AGENTS)
        yield from attribution.agent_span(trace, span, name)
        if error:
            yield from _limit_or_error(number, common | {"agent": name}, error)
        return
    record = _record(kind, data, common, error)
    if record is None:
        return
    if isinstance(record, Handoff):
        yield number, record
    else:
        yield from attribution.record(parent, (number, record))


def _record(kind: Any, data: dict[str, Any], common: dict[str, Any], error: str) -> Record | None:
    if kind in ("generation", "response"):
        usage = data.get("usage") or {}
        output = data.get("output")
        return ModelCall(
            **common,
            name=str(data.get("model") or ""),
            status="error" if error else "ok",
            error=error,
            input_tokens=_int(usage, "input_tokens", "prompt_tokens"),
            output_tokens=_int(usage, "output_tokens", "completion_tokens"),
            counted=any(isinstance(usage.get(n), int) for n in TOKEN_COUNTS),
            output=repeat_digest(msgspec.json.encode(output)) if output else "",
        )
    if kind == "function":
        args, varied = shaped(str(data.get("input") or ""))
        return ToolCallRecord(
            **common,
            name=str(data.get("name", "")),
            args=args,
            varied=varied,
            output=repeat_digest(str(data["output"])) if data.get("output") is not None else "",
            status="error" if error else "ok",
            error=error,
        )
    if kind == "handoff":
        giver, taker = str(data.get("from_agent") or ""), str(data.get("to_agent") or "")
        return Handoff(**common, agent=giver, from_agent=giver, to_agent=taker)
    if error:
        return Message(**common, name=str(kind), error=error)
    return None


def _limit_or_error(number: int, common: dict[str, Any], error: str) -> Iterator[Located]:
    if any(word in error.lower() for word in LIMIT_WORDS):
        yield (
            number,
            Limit(
                **common, name="max_turns" if "turn" in error.lower() else "limit", message=error
            ),
        )
    else:
        yield number, Message(**common, name="agent", error=error)


def _error(item: dict[str, Any]) -> str:
    error = item.get("error")
    if not error:
        return ""
    if isinstance(error, dict):
        return str(error.get("message") or "error")
    return str(error)


TOKEN_COUNTS = ("input_tokens", "prompt_tokens", "output_tokens", "completion_tokens")


def _int(usage: dict[str, Any], *names: str) -> int:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int):
            return token_count(value, name)
    return 0
