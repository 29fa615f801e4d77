"""History trimming: drop the oldest tool exchanges when a conversation grows past its limit.

Never dropped: the system prompt (held apart from the messages), the task prompt (the first
message), and the latest exchange, whose results the model has not seen yet.
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import Struct

from mas_cli.llm.types import Message


class Trimmed(Struct, frozen=True):
    """The messages kept, and how many were dropped."""

    messages: tuple[Message, ...]
    dropped: int


def trim(
    messages: tuple[Message, ...], limit: int, count: Callable[[tuple[Message, ...]], int]
) -> Trimmed:
    """Drop whole exchanges (an assistant's tool calls with their results), oldest first."""
    kept = list(messages)
    dropped = 0
    while count(tuple(kept)) > limit:
        span = _oldest_exchange(kept)
        if span is None:
            break
        start, end = span
        dropped += end - start
        del kept[start:end]
    return Trimmed(tuple(kept), dropped)


def _oldest_exchange(messages: list[Message]) -> tuple[int, int] | None:
    """[start, end) of the oldest complete tool exchange that is not the latest one."""
    exchanges = []
    i = 1  # the task prompt stays
    while i < len(messages):
        if messages[i].role == "assistant" and messages[i].tool_calls:
            end = i + 1
            while end < len(messages) and messages[end].role == "tool":
                end += 1
            exchanges.append((i, end))
            i = end
        else:
            i += 1
    return exchanges[0] if len(exchanges) > 1 else None
