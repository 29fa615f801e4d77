"""One conversation (a chat transcript, a group chat, a coding agent's trajectory) into records.

Each message is mapped by its dialect, told from its keys:

  chat        `role` messages, OpenAI (`tool_calls` with `function.name`/`arguments`, `tool`
              messages with `tool_call_id`; AG2's `tool_responses`) or Anthropic (`tool_use` and
              `tool_result` content blocks); the speaker is `name` (AutoGen/AG2 group chats)
  agentchat   AutoGen AgentChat messages: `source`, `type`, `content`, `models_usage`
              (Magentic-One's orchestrator among them; a progress ledger's `next_speaker` is a
              handoff)
  swe-agent   SWE-agent steps: `action`, `observation`, `thought`, `response`
  openhands   OpenHands events: `action` with `args`, or `observation` with `cause`, `extras`

A model's reply is a model call by its speaker, a tool call is held until its result is read
(so the record carries both), and a change of speaker is an agent start (the order speakers take
turns in). `user` and `system` messages without a name are nobody's turn. Records carry the
message's time when it has one, and always its place: `span` is a position such as
`record 2 · message 14` (see `records.is_position`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from msgspec import Struct, field

from mas_cli.events.counts import token_count
from mas_cli.events.formats.frameworks import AUTOGEN
from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Message,
    ModelCall,
    Record,
    ToolCallRecord,
    TraceEnd,
    repeat_digest,
)

MAX_PENDING = 1000
"""Tool calls held for their results; past this the oldest are given without one."""
COMMAND_CHARS = 80
RECENT_RESPONSES = 64
VOLATILE_ARGS = ("thought", "security_risk", "confirmation_state", "is_confirmed")
NOBODY = ("user", "system", "developer", "environment")
_ENCODE = msgspec.json.Encoder(order="sorted")


def dialect(message: Any) -> str:
    """`chat`, `agentchat`, `swe-agent`, `openhands`, or "" for what is not a message."""
    if not isinstance(message, dict):
        return ""
    if "role" in message:
        return "chat"
    if "action" in message or "observation" in message:
        if isinstance(message.get("action"), str) and "observation" in message:
            return "swe-agent"
        return "openhands"
    if "source" in message and "content" in message:
        return "agentchat"
    return ""


def text(value: Any) -> str:
    """A value as text: strings as they are, anything else as canonical JSON."""
    if isinstance(value, str):
        return value
    return _ENCODE.encode(value).decode("utf-8", "replace")


def iso(value: Any) -> str:
    """A time as ISO 8601: strings as they are, numbers as seconds (or ms) since the epoch."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            return ""
    return ""


class _Pending(Struct):
    loc: int
    call: ToolCallRecord


class Conversation(Struct):
    """The state of one conversation being read: its speakers and the tool calls in flight."""

    trace: str
    agent: str = "assistant"
    """Who speaks when a message does not say (the assistant, a coding agent)."""
    prefix: str = ""
    """`record N · ` when the input holds several conversations."""
    speaker: str = ""
    pending: dict[str, _Pending] = field(default_factory=dict)
    responses: dict[str, None] = field(default_factory=dict)
    """The latest model replies seen (RECENT_RESPONSES of them: one reply's tool calls are
    consecutive events)."""
    delegates: list[str] = field(default_factory=list)
    framework: str = ""
    """What wrote it (`frameworks.py`: AutoGen for AgentChat messages, SWE-agent, OpenHands, a
    plain chat), so findings' advice speaks its settings (`triage/advice.py`)."""

    def message(self, loc: int, index: int, msg: dict[str, Any]) -> Iterator[tuple[int, Record]]:
        """The records of one message, at `loc`, the `index`-th of the conversation."""
        kind = dialect(msg)
        ts = iso(msg.get("timestamp") or msg.get("created_at") or msg.get("ts") or "")
        noun = "step" if kind == "swe-agent" else "event" if kind == "openhands" else "message"
        ident = msg.get("id") if kind == "openhands" else None
        place = f"{self.prefix}{noun} {ident if isinstance(ident, int) else index}"
        common: dict[str, Any] = {"trace": self.trace, "ts": ts, "span": place}
        if kind == "chat":
            yield from self._chat(loc, msg, common)
        elif kind == "agentchat":
            yield from self._agentchat(loc, msg, common)
        elif kind == "swe-agent":
            yield from self._step(loc, msg, common)
        elif kind == "openhands":
            yield from self._event(loc, msg, common)

    def end(self, loc: int, *, finished: bool = True) -> Iterator[tuple[int, Record]]:
        """The tool calls never answered, and (when the record was read whole) its end."""
        yield from self._flush()
        if finished:
            end = f"{self.prefix}end".strip()
            yield loc, TraceEnd(trace=self.trace, span=end, framework=self.framework)

    def _turn(self, loc: int, agent: str, common: dict[str, Any]) -> Iterator[tuple[int, Record]]:
        if agent != self.speaker:
            yield from self._flush()
            self.speaker = agent
            yield loc, AgentStart(**common, agent=agent, framework=self.framework)

    def _flush(self) -> Iterator[tuple[int, Record]]:
        for held in self.pending.values():
            yield held.loc, held.call
        self.pending.clear()

    def _hold(self, loc: int, key: str, call: ToolCallRecord) -> Iterator[tuple[int, Record]]:
        if len(self.pending) >= MAX_PENDING:
            yield from self._flush()
        if key in self.pending:
            key = f"{key}#{loc}#{len(self.pending)}"
        self.pending[key] = _Pending(loc, call)

    def _answer(self, key: str, output: Any, error: str = "") -> Iterator[tuple[int, Record]]:
        held = self.pending.pop(key, None)
        if held is not None:
            yield (
                held.loc,
                msgspec.structs.replace(
                    held.call,
                    output=repeat_digest(text(output)),
                    status="error" if error else "ok",
                    error=error,
                ),
            )

    # chat: OpenAI, Anthropic, AG2 --------------------------------------------------------

    def _chat(self, loc: int, msg: dict[str, Any], common: dict[str, Any]) -> Iterator[Located]:
        role = str(msg.get("role") or "")
        yield from self._chat_results(msg, role)
        speaker = msg.get("name") or msg.get("agent")
        if role == "tool" or (not speaker and role in NOBODY):
            return
        agent = str(speaker or (self.agent if role == "assistant" else role))
        yield from self._turn(loc, agent, common)
        common = common | {"agent": agent}
        content = msg.get("content")
        blocks = content if isinstance(content, list) else []
        said = "".join(text(b.get("text", "")) for b in blocks if isinstance(b, dict)) or content
        output = repeat_digest(text([said, msg.get("tool_calls"), msg.get("function_call")]))
        if role == "assistant":
            yield loc, ModelCall(**common, output=output, **_usage(msg.get("usage")))
        else:
            yield loc, Message(**common, name=role, output=output)
        for call in _openai_calls(msg) + _anthropic_calls(blocks):
            yield from self._hold(
                loc, call[0], ToolCallRecord(**common, name=call[1], args=call[2])
            )

    def _chat_results(self, msg: dict[str, Any], role: str) -> Iterator[Located]:
        if role == "tool" and "tool_call_id" in msg:
            yield from self._answer(str(msg["tool_call_id"]), msg.get("content"))
        if role == "function" and msg.get("name"):
            yield from self._answer(str(msg["name"]), msg.get("content"))
        for response in msg.get("tool_responses") or []:
            yield from self._answer(str(response.get("tool_call_id")), response.get("content"))
        content = msg.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                error = _first_line(block.get("content")) if block.get("is_error") else ""
                yield from self._answer(str(block.get("tool_use_id")), block.get("content"), error)

    # AutoGen AgentChat, Magentic-One -------------------------------------------------------

    def _agentchat(
        self, loc: int, msg: dict[str, Any], common: dict[str, Any]
    ) -> Iterator[Located]:
        kind, content = str(msg.get("type") or ""), msg.get("content")
        self.framework = AUTOGEN
        items = content if isinstance(content, list) else []
        if kind == "ToolCallExecutionEvent":
            for result in items:
                error = _first_line(result.get("content")) if result.get("is_error") else ""
                yield from self._answer(str(result.get("call_id")), result.get("content"), error)
            return
        agent = str(msg.get("source") or "")
        if not agent or agent == "user":
            return
        yield from self._turn(loc, agent, common)
        common = common | {"agent": agent}
        usage = msg.get("models_usage")
        if isinstance(usage, dict):
            yield (
                loc,
                ModelCall(
                    **common, name=kind, output=repeat_digest(text(content)), **_usage(usage)
                ),
            )
        else:
            yield loc, Message(**common, name=kind, output=repeat_digest(text(content)))
        target = msg.get("target") or _next_speaker(content)
        if target:
            yield loc, Handoff(**common, from_agent=agent, to_agent=str(target))
        if kind == "ToolCallRequestEvent":
            for call in items:
                tool = ToolCallRecord(**common, name=str(call.get("name")), args=_args(call))
                yield from self._hold(loc, str(call.get("id")), tool)

    # SWE-agent -----------------------------------------------------------------------------

    def _step(self, loc: int, step: dict[str, Any], common: dict[str, Any]) -> Iterator[Located]:
        yield from self._turn(loc, self.agent, common)
        common = common | {"agent": self.agent}
        said = step.get("response") or step.get("thought") or ""
        output = repeat_digest(text([said, step.get("action")]))
        yield loc, ModelCall(**common, output=output, counted=False)
        action = text(step.get("action") or "")
        if action.strip():
            yield (
                loc,
                ToolCallRecord(
                    **common,
                    name=command_name(action),
                    args=repeat_digest(action),
                    output=repeat_digest(text(step.get("observation"))),
                ),
            )

    # OpenHands -----------------------------------------------------------------------------

    def _event(self, loc: int, event: dict[str, Any], common: dict[str, Any]) -> Iterator[Located]:
        if "observation" in event:
            yield from self._observation(event)
            return
        if event.get("source") != "agent":
            return
        agent = self.delegates[-1] if self.delegates else self.agent
        yield from self._turn(loc, agent, common)
        common = common | {"agent": agent}
        yield from self._model_response(loc, event, common)
        action, args = str(event.get("action") or ""), event.get("args") or {}
        if action == "delegate":
            taker = str(args.get("agent") or "delegate")
            self.delegates.append(taker)
            yield loc, Handoff(**common, from_agent=agent, to_agent=taker)
        elif action in ("message", "think", "finish", "recall", "system", "change_agent_state"):
            said = event.get("message") or args.get("content") or args.get("thought") or ""
            yield loc, Message(**common, name=action, output=repeat_digest(text(said)))
        else:
            tool = ToolCallRecord(
                **common, name=_tool_name(event, action, args), args=_event_args(args)
            )
            yield from self._hold(loc, str(event.get("id")), tool)

    def _model_response(
        self, loc: int, event: dict[str, Any], common: dict[str, Any]
    ) -> Iterator[Located]:
        meta = event.get("tool_call_metadata") or {}
        response = meta.get("model_response") or {}
        key = str(response.get("id") or meta.get("tool_call_id") or event.get("id"))
        if key in self.responses:
            return  # one reply that asked for several tools is one model call
        self.responses[key] = None
        if len(self.responses) > RECENT_RESPONSES:
            del self.responses[next(iter(self.responses))]
        said = text([event.get("message"), event.get("args")])
        name = str(response.get("model") or "")
        yield (
            loc,
            ModelCall(
                **common, name=name, output=repeat_digest(said), **_usage(response.get("usage"))
            ),
        )

    def _observation(self, event: dict[str, Any]) -> Iterator[Located]:
        kind, extras = str(event.get("observation")), event.get("extras") or {}
        if kind == "delegate" and self.delegates:
            self.delegates.pop()
        code = extras.get("exit_code", (extras.get("metadata") or {}).get("exit_code"))
        content = event.get("content")
        error = ""
        if kind == "error":
            error = _first_line(content) or "error"
        elif isinstance(code, int) and code not in (0, -1):
            error = f"exit code {code}: {_last_line(content)}"
        yield from self._answer(str(event.get("cause")), content, error)


Located = tuple[int, Record]


def command_name(action: str) -> str:
    """A shell command or tool action as a name: its first line, cut to COMMAND_CHARS."""
    line = action.strip().splitlines()[0] if action.strip() else ""
    return line[:COMMAND_CHARS] + ("…" if len(line) > COMMAND_CHARS else "")


def _usage(usage: Any) -> dict[str, Any]:
    """A ModelCall's token fields from a message's usage; `counted` False when it has none."""
    if not isinstance(usage, dict):
        return {"counted": False}
    tokens = {
        "input_tokens": usage.get("prompt_tokens", usage.get("input_tokens")),
        "output_tokens": usage.get("completion_tokens", usage.get("output_tokens")),
    }
    counts = {k: token_count(v, k) for k, v in tokens.items() if isinstance(v, int)}
    return {**counts, "counted": bool(counts)}


def _openai_calls(msg: dict[str, Any]) -> list[tuple[str, str, str]]:
    calls = []
    for call in msg.get("tool_calls") or []:
        function = call.get("function") or {}
        calls.append((str(call.get("id")), str(function.get("name")), _args(function)))
    legacy = msg.get("function_call")
    if isinstance(legacy, dict):
        calls.append((str(legacy.get("name")), str(legacy.get("name")), _args(legacy)))
    return calls


def _anthropic_calls(blocks: list[Any]) -> list[tuple[str, str, str]]:
    return [
        (str(b.get("id")), str(b.get("name")), repeat_digest(text(b.get("input"))))
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]


def _args(call: dict[str, Any]) -> str:
    """The arguments' digest: a JSON string is read, so key order and spacing do not count."""
    raw = call.get("arguments")
    if isinstance(raw, str):
        with contextlib.suppress(msgspec.DecodeError):
            raw = msgspec.json.decode(raw)
    return repeat_digest(text(raw))


def _tool_name(event: dict[str, Any], action: str, args: dict[str, Any]) -> str:
    if action == "run" and isinstance(args.get("command"), str):
        return command_name(args["command"])
    meta = event.get("tool_call_metadata") or {}
    return str(meta.get("function_name") or action)


def _event_args(args: dict[str, Any]) -> str:
    return repeat_digest(text({k: v for k, v in args.items() if k not in VOLATILE_ARGS}))


def _next_speaker(content: Any) -> str:
    """A Magentic-One progress ledger's next speaker, when a message is one."""
    if not isinstance(content, str) or '"next_speaker"' not in content:
        return ""
    try:
        ledger = msgspec.json.decode(content.strip().removeprefix("```json").strip("`\n "))
    except msgspec.DecodeError:
        return ""
    speaker = ledger.get("next_speaker") if isinstance(ledger, dict) else None
    answer = speaker.get("answer") if isinstance(speaker, dict) else speaker
    return str(answer) if isinstance(answer, str) else ""


def _first_line(value: Any) -> str:
    lines = text(value or "").strip().splitlines()
    return lines[0][:200] if lines else ""


def _last_line(value: Any) -> str:
    lines = text(value or "").strip().splitlines()
    return lines[-1][:200] if lines else ""
