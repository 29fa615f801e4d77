"""Replay: every model call served from a run's llm.jsonl, with no network and no spend.

Each request is matched to the record of the same agent, task, turn and attempt, and must
equal the request recorded there (see `recording.request_doc`). A recorded failure is raised
again, so a 429 storm replays as one. When no record matches, the call fails (not retried)
naming the nearest recorded request and the first field that differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mas_cli.llm.recording import request_doc
from mas_cli.llm.replay_records import RecordDoc, read_records
from mas_cli.llm.types import Completion, LlmFailure, ProviderOptions, Request
from mas_cli.spec.model_spec import ModelSpec

SHOWN_CHARS = 60

Key = tuple[str, str, int, int]


class ReplayProvider:
    """A provider that answers from a recording and fails loudly when the run departs from it."""

    name = "replay"

    def __init__(self, records: list[RecordDoc], source: Path) -> None:
        self.records = records
        self.source = source
        self._index = {_key(r): i for i, r in enumerate(records)}

    async def aclose(self) -> None:
        """Nothing to release."""

    async def complete(self, request: Request) -> Completion:
        """The recorded answer to this request, or the recorded failure raised again."""
        site = request.site
        key = (site.agent, site.task, site.turn, site.attempt)
        wanted = request_doc(request)
        line = self._index.get(key)
        if line is None or first_difference(self.records[line].request, wanted):
            raise self._mismatch(key, wanted)
        outcome = self.records[line].outcome()
        if isinstance(outcome, LlmFailure):
            raise outcome
        return outcome

    def _mismatch(self, key: Key, wanted: dict[str, Any]) -> LlmFailure:
        line = nearest(self.records, key)
        if line is None:
            return _failure(f"replay: {_who(key)} was not recorded ({self.source} is empty)")
        record = self.records[line]
        diff = first_difference(record.request, wanted) or "none in the request"
        where = f"{self.source.name} line {line + 1}"
        if self._index.get(key) == line:
            return _failure(f"replay: {_who(key)} differs from {where} at {diff}")
        return _failure(
            f"replay: {_who(key)} was not recorded; the nearest recorded request, {where} "
            f"({_who(_key(record))}), differs at {diff}"
        )


def create(model: ModelSpec, options: ProviderOptions) -> ReplayProvider:  # noqa: ARG001
    """Registry factory: the replay provider for `options.recording`, whatever the model.

    Raises:
        UsageError: the recording is missing or unreadable, or a record is malformed.
    """
    assert options.recording is not None, "a replay is made for a recording"
    return load(options.recording)


def load(path: Path) -> ReplayProvider:
    """The replay provider for a recording.

    Raises:
        UsageError: the recording is missing or unreadable, or a record is malformed.
    """
    return ReplayProvider(read_records(path), path)


def nearest(records: list[RecordDoc], key: Key) -> int | None:
    """The line of the recorded call most like this one: same agent, task, turn, attempt."""
    agent, task, turn, attempt = key

    def likeness(i: int) -> tuple[bool, bool, bool, bool, int]:
        r = records[i]
        same = (r.agent == agent, r.task == task)
        return (*same, r.turn == turn, r.attempt == attempt, -abs(r.turn - turn))

    return max(range(len(records)), key=likeness, default=None)


def first_difference(recorded: Any, now: Any, path: str = "") -> str | None:
    """`messages[2].content: recorded '…' now '…'`, or None when they are equal."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in [*recorded, *(k for k in now if k not in recorded)]:
            found = first_difference(
                recorded.get(key), now.get(key), f"{path}.{key}" if path else key
            )
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(now, list):
        for i, (a, b) in enumerate(zip(recorded, now, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(recorded) != len(now):
            return f"{path}: recorded {len(recorded)} items, now {len(now)}"
        return None
    return None if recorded == now else f"{path}: recorded {_show(recorded, now)}"


def _show(recorded: Any, now: Any) -> str:
    if isinstance(recorded, str) and isinstance(now, str):
        same = next(
            (i for i, (a, b) in enumerate(zip(recorded, now, strict=False)) if a != b),
            min(len(recorded), len(now)),
        )
        start = max(0, same - 20)  # show where they part, with a little context
        cut = slice(start, start + SHOWN_CHARS)
        lead = "…" if start else ""
        return f"{lead}{recorded[cut]!r}, now {lead}{now[cut]!r}"
    return f"{json.dumps(recorded)[:SHOWN_CHARS]}, now {json.dumps(now)[:SHOWN_CHARS]}"


def _key(record: RecordDoc) -> Key:
    return (record.agent, record.task, record.turn, record.attempt)


def _who(key: Key) -> str:
    agent, task, turn, attempt = key
    return f"agent {agent}, task {task}, turn {turn}, attempt {attempt}"


def _failure(message: str) -> LlmFailure:
    hint = (
        "a replay needs the same crew, inputs and tool results; run without --replay to record anew"
    )
    return LlmFailure(message, kind="replay_mismatch", retryable=False, hint=hint)
