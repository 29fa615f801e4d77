"""The normalized record stream every log format is read into.

One small frozen struct per kind of step, told apart by their class: a model call, a tool call,
a message, a handoff, a state write, a limit hit, an agent starting work, and a trace (a run)
starting or ending. Every reader builds them, our own run log's included (see `mas.py`).

Every record carries `trace` (the trace or run id), `agent`, `task` and `ts` (ISO 8601, "" when
the log does not say), and where the source has one, `span` (its span id), which evidence
quotes next to line numbers.
"""

from __future__ import annotations

import hashlib
from typing import TypeAlias

import msgspec

from mas_cli.events import volatile

_FROZEN = {"frozen": True, "gc": False, "kw_only": True}


class Base(msgspec.Struct, **_FROZEN):
    """Fields every record has."""

    trace: str = ""
    agent: str = ""
    task: str = ""
    ts: str = ""
    span: str = ""


class ModelCall(Base):
    """One model call attempt."""

    name: str = ""
    turn: int = 0
    status: str = "ok"
    error: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    counted: bool = True
    """The log gave the call's token counts (False: they are unknown, not zero)."""
    cost: float | None = None
    output: str = ""
    varied: str = ""
    """The volatile parts of the output, set aside from `output` (see `volatile.summary`)."""


class ToolCallRecord(Base):
    """One tool call: the tool, digests of its arguments and result, how it went."""

    name: str = ""
    turn: int = 0
    args: str = ""
    output: str = ""
    status: str = "ok"
    error: str = ""
    cached: bool = False
    """The log says the answer came from a cache (the tool is already deterministic)."""
    varied: str = ""
    """The volatile parts of the arguments, set aside from `args` (see `volatile.summary`)."""


class Message(Base):
    """Anything else an agent said or did that a log recorded."""

    name: str = ""
    turn: int = 0
    output: str = ""
    error: str = ""
    varied: str = ""
    """As `ModelCall.varied`."""


class Handoff(Base):
    """Work passed from one agent to another (a handoff or a delegation)."""

    from_agent: str = ""
    to_agent: str = ""
    source: str = ""
    target: str = ""

    @property
    def giver(self) -> str:
        """The agent handing work over."""
        return self.from_agent or self.source or self.agent

    @property
    def taker(self) -> str:
        """The agent receiving it."""
        return self.to_agent or self.target


class StateWrite(Base):
    """A shared-state key written (or refused) by an agent."""

    key: str = ""


class Limit(Base):
    """A guard stopped something."""

    name: str = ""
    message: str = ""
    chain: tuple[str, ...] = ()
    """A refused delegation's chain of agents, the refused worker last (mas logs)."""


class AgentStart(Base):
    """An agent was invoked: a task started, an agent span, an `agent_run` line."""

    turn: int = 0
    framework: str = ""
    """The framework that ran it, when the log says (see `frameworks.py`)."""


class TaskEnd(Base):
    """A task ended."""

    status: str = ""


class TraceStart(Base):
    """A run (a trace) began: the crew and the run id when the log names them."""

    crew: str = ""
    run: str = ""
    every_call: bool = False
    """The log records every model call with its tokens (our own run log): a trace with none
    spent none. Other logs may leave calls out: there, no call is no count, not zero."""


class TraceEnd(Base):
    """A run (a trace) ended."""

    status: str = ""
    framework: str = ""
    """The framework that ran it, when the log says (see `frameworks.py`)."""


Record: TypeAlias = (
    ModelCall
    | ToolCallRecord
    | Message
    | Handoff
    | StateWrite
    | Limit
    | AgentStart
    | TaskEnd
    | TraceStart
    | TraceEnd
)


def repeat_digest(text: str | bytes) -> str:
    """A short stable digest of arguments or an output, for telling repeats apart."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def shaped(text: str) -> tuple[str, str]:
    """The digest of a text with its volatile parts set aside, and a summary of those parts."""
    found = volatile.shape(text)
    return repeat_digest(found.text), volatile.summary(found)


POSITIONS = ("record ", "message ", "step ", "event ")


def is_position(span: str) -> bool:
    """Whether a record's `span` is its place in a transcript (`record 2 · message 14`), which
    the chat readers give where a log has no span ids and often no times."""
    return span.startswith(POSITIONS)


LINE_BITS = 40


def make_loc(unit: int, line: int) -> int:
    """A record's place as one int: the unit (a file, or a part of one) and the line in it."""
    return (unit << LINE_BITS) | line


def split_loc(loc: int) -> tuple[int, int]:
    """The unit and the line of a loc."""
    return loc >> LINE_BITS, loc & ((1 << LINE_BITS) - 1)
