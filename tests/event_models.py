"""Our run log's events built through the writer's models, for tests that seed a log by hand.

A test names the fields it cares about; `event` refuses a field the writer's model does not
declare (so a renamed field fails the tests that use it, instead of leaving a reader reading
nothing while they pass), fills the model's other required fields with values the readers treat
as absent, validates, and gives the event as the writer writes it (None fields left out).
"""

from __future__ import annotations

from typing import Any

from mas_cli.events import models as ev


def _models() -> dict[str, type[ev.Event]]:
    found: dict[str, type[ev.Event]] = {}
    pending = list(ev.Event.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        kind = model.model_fields["type"].default if "type" in model.model_fields else None
        if isinstance(kind, str):
            found[kind] = model
    return found


MODELS = _models()
"""Each event type's model, by the `type` it writes."""

FILLED: dict[str, dict[str, Any]] = {
    "run_started": {"crew": "", "crew_path": "", "process": "sequential"},
    "llm_call": {"provider": "openai", "model": ""},
    "tool_call": {"tool": "", "args_digest": ""},
    "state_write": {"read_version": 0, "writer": "", "accepted": True},
    "limit_hit": {"kind": "", "value": 0, "threshold": 0, "scope": "agent", "message": ""},
    "handoff": {
        "from_agent": "",
        "to_agent": "",
        "delegation": "",
        "instruction_digest": "",
        "depth": 1,
    },
    "retry": {"what": "llm_call", "attempt": 2, "reason": ""},
    "rate_limited": {"limit": "", "reason": "", "wait_s": 0.0},
    "history_trimmed": {"dropped_messages": 0, "tokens_before": 0, "tokens_after": 0},
    "warning": {"message": ""},
    "task_finished": {"status": "ok"},
    "run_finished": {
        "status": "ok",
        "duration_s": 0.0,
        "llm_calls": 0,
        "tool_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
    },
}
"""What a test that leaves a required field out means: the value a reader takes for absent
(an empty name, version 0, an accepted write)."""


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    """One event of our log, as the writer's model validates and dumps it.

    Raises:
        KeyError: no model writes `event_type`.
        TypeError: a field the model does not declare.
        pydantic.ValidationError: a field of the wrong type.
    """
    model = MODELS[event_type]
    undeclared = sorted(set(fields) - set(model.model_fields))
    if undeclared:
        raise TypeError(f"{model.__name__} declares no field {', '.join(undeclared)}")
    given = {k: v for k, v in fields.items() if v is not None}
    made = model.model_validate({**FILLED.get(event_type, {}), **given})
    return made.model_dump(mode="json", exclude_none=True)
