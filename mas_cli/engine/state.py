"""Versioned shared state: every write names the version it read; a stale write is refused.

A write is accepted only from a task that declares the key in `writes`, only when the value
satisfies the key's JSON Schema, and only when nobody wrote the key since the writer read it.
Nothing is ever silently overwritten.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from mas_cli.events.jsonsafe import refusal
from mas_cli.events.logged import NOT_WRITTEN
from mas_cli.spec.models import MANAGER_TASK, CrewSpec
from mas_cli.spec.patterns import schema_validator


class Entry(Struct, frozen=True):
    """One key's current value, its version (0: never written) and who wrote it last."""

    value: Any = None
    version: int = 0
    writer: str | None = None


ABSENT: Any = object()
"""The value of a write whose field the task's output does not have (never written as null)."""


class WriteResult(Struct, frozen=True):
    """What became of a write."""

    accepted: bool
    version: int | None
    reason: str | None = None


class SharedState:
    """The run's shared state. Used from one event loop, so no locks are needed."""

    def __init__(self, crew: CrewSpec) -> None:
        self._schemas = crew.state
        self._writers = {
            key: {t.id for t in crew.tasks if key in t.writes.values()} for key in crew.state
        }
        if crew.process == "hierarchical":  # the manager's answer carries the last task's writes
            for key in crew.tasks[-1].writes.values():
                self._writers[key].add(MANAGER_TASK)
        self._entries = {key: Entry() for key in crew.state}

    def get(self, key: str) -> Entry:
        """The current entry of a declared key."""
        return self._entries[key]

    def versions(self) -> dict[str, int]:
        """Every key's current version: what a task has read when it starts."""
        return {key: entry.version for key, entry in self._entries.items()}

    def values(self) -> dict[str, Any]:
        """Every key's current value."""
        return {key: entry.value for key, entry in self._entries.items()}

    def write(
        self, key: str, value: Any, read_version: int, writer: str, field: str | None = None
    ) -> WriteResult:
        """Write a value if the writer may, the value is valid and the version is still current.
        `field` names the output field the value came from (ABSENT: the output has none)."""
        reason = self._refusal(key, value, read_version, writer, field)
        if reason:
            return WriteResult(False, None, reason)
        version = self._entries[key].version + 1
        self._entries[key] = Entry(value, version, writer)
        return WriteResult(True, version)

    def write_all(self, writes: list[tuple[str, Any, int, str]], writer: str) -> list[WriteResult]:
        """A task's writes (key, value, version read, output field), all or none: when one is
        refused, the others are undone and refused too, naming it, so a failed task leaves no
        key written. A field the output does not have (ABSENT) writes nothing and refuses
        nothing: its key keeps its value."""
        before = dict(self._entries)
        results = [
            self.write(key, value, read, writer, field) for key, value, read, field in writes
        ]
        refused = next(
            (
                key
                for (key, value, *_), r in zip(writes, results, strict=True)
                if not r.accepted and value is not ABSENT
            ),
            None,
        )
        if refused is None:
            return results
        self._entries = before
        why = f"{NOT_WRITTEN}the write of '{refused}' by task '{writer}' was refused"
        return [r if not r.accepted else WriteResult(False, None, why) for r in results]

    def _refusal(
        self, key: str, value: Any, read_version: int, writer: str, field: str | None
    ) -> str | None:
        if key not in self._entries:
            return f"'{key}' is not a declared state key"
        if writer not in self._writers[key]:
            return f"task '{writer}' does not declare '{key}' in writes"
        if bad := self._invalid(key, value, field):
            return bad
        current = self._entries[key]
        if current.version != read_version:
            return (
                f"conflict: '{key}' is at version {current.version} (written by task "
                f"'{current.writer}') but task '{writer}' read version {read_version}"
            )
        return None

    def _invalid(self, key: str, value: Any, field: str | None) -> str | None:
        """What is wrong with the value itself: absent, not JSON, or outside the key's schema."""
        if value is ABSENT:  # not a refusal: the key keeps its value, the task is not failed
            return f"{NOT_WRITTEN}the output has no field '{field or key}' for '{key}'"
        if bad := refusal(value):
            return f"{value!r} is not valid for '{key}': {bad}"
        errors = sorted(schema_validator(self._schemas[key]).iter_errors(value), key=str)
        if errors:
            return f"{value!r} is not valid for '{key}': {errors[0].message}"
        return None

    def snapshot(self) -> dict[str, Any]:
        """The final state as state.json holds it: value, version and last writer per key."""
        return {
            key: {"value": e.value, "version": e.version, "writer": e.writer}
            for key, e in self._entries.items()
        }
