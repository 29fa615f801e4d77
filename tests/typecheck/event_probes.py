"""Misspelled events that must stay type errors: mypy checks this file (pyproject's `files`).

Why this file exists: an event is built as a typed object where it happens, so a misspelled
field is caught by mypy before a run writes a wrong log. Each line below is such a mistake,
silenced with the exact error code mypy gives it. `warn_unused_ignores` (on under `strict`)
makes mypy fail the day a line stops being an error, for instance if `Sink.emit` took
`**fields: Any` again or an event model accepted any keyword. The file is never run.
"""

from __future__ import annotations

from mas_cli.engine.context import Sink
from mas_cli.events.models import LlmCall, ToolCallEvent


def misspelled_field() -> LlmCall:
    """`input_token` for `input_tokens`: a field LlmCall does not declare."""
    return LlmCall(provider="openai", model="m", input_token=1234)  # type: ignore[call-arg]


def wrong_type() -> ToolCallEvent:
    """A field of the wrong type."""
    return ToolCallEvent(tool="t", args_digest="a", cached="yes")  # type: ignore[arg-type]


def untyped_emit(sink: Sink) -> None:
    """The old way: the event type and its fields as keywords to the sink."""
    sink.emit(LlmCall, None, provider="openai", model="m", input_token=1234)  # type: ignore[arg-type, call-arg]
