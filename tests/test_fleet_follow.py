"""Two followers of one Temporal batch at once (`mas batch status` run beside the submitter
that follows it): each item ended gets one line in results.jsonl and one dead letter, whichever
follower reads it first, and the submitter still counts it. The history is a fake with the
shape fleet/follow.py reads; the tier (tests/realservers/test_temporal.py) follows a real one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mas_cli.batch.folder import BatchFolder
from mas_cli.batch.runner import Tally
from mas_cli.fleet.follow import Books, follow
from mas_cli.fleet.messages import ItemDone, ItemTask

Hook = Callable[[], Awaitable[None]] | None


def history(*items: tuple[str, str]) -> list[Any]:
    """An activity scheduled and completed for each (key, status)."""
    from temporalio.api.enums.v1 import EventType

    events: list[Any] = []
    for number, (key, status) in enumerate(items):
        task = ItemTask("b-x", "crew", key, {"item": key}, offline=True)
        line = {"key": key, "run_id": None, "status": status, "output": None, "cost_usd": 0.0}
        done = ItemDone({**line, "error": "boom" if status == "failed" else None},
                        status == "failed", "", {"item": key})  # fmt: skip
        scheduled = SimpleNamespace(input=SimpleNamespace(payloads=[task]))
        completed = SimpleNamespace(
            result=SimpleNamespace(payloads=[done]), scheduled_event_id=10 + number
        )
        events.append(SimpleNamespace(
            event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, event_id=10 + number,
            activity_task_scheduled_event_attributes=scheduled,
        ))  # fmt: skip
        events.append(SimpleNamespace(
            event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            activity_task_completed_event_attributes=completed,
        ))  # fmt: skip
    return events


class Client:
    """Serves `events` as one run's history; `before_last` runs before its last event."""

    def __init__(self, events: list[Any], before_last: Hook = None) -> None:
        self.events, self.before_last = events, before_last
        self.data_converter = SimpleNamespace(decode=self._decode)

    @staticmethod
    async def _decode(payloads: list[Any], _types: list[Any]) -> list[Any]:
        return list(payloads)

    def get_workflow_handle(self, workflow_id: str, **_run: Any) -> Any:
        return SimpleNamespace(id=workflow_id, fetch_history_events=self._events)

    async def _events(self, **_wait: bool) -> AsyncIterator[Any]:
        for n, event in enumerate(self.events):
            if n == len(self.events) - 1 and self.before_last is not None:
                await self.before_last()
            yield event


async def follow_once(folder_path: Path, client: Client) -> Tally:
    tally = Tally()
    with BatchFolder(folder_path) as folder:
        books = Books(folder, {"first_run_id": "r1"}, tally, lambda _t: None)
        await follow(client, SimpleNamespace(id=folder_path.name), books, wait=False)
    return tally


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_item_a_second_follower_wrote_meanwhile_is_written_once_and_counted(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "batches" / "b-20260101T000000000-abcdef"
    events = history(("a", "ok"), ("b", "failed"))

    async def status_beside() -> None:  # `mas batch status` reads the same history meanwhile
        await follow_once(folder, Client(events))

    submitter = asyncio.run(follow_once(folder, Client(events, before_last=status_beside)))
    results = lines(folder / "results.jsonl")
    assert sorted(r["key"] for r in results) == ["a", "b"]
    assert [d["key"] for d in lines(folder / "dead.jsonl")] == ["b"]
    assert (submitter.ok, submitter.failed) == (1, 1)  # the submitter counts what it saw end


def test_a_follower_again_passes_over_what_was_written_before_it_began(tmp_path: Path) -> None:
    folder = tmp_path / "batches" / "b-20260101T000000000-abcdef"
    events = history(("a", "ok"))
    asyncio.run(follow_once(folder, Client(events)))
    again = asyncio.run(follow_once(folder, Client(events)))
    assert len(lines(folder / "results.jsonl")) == 1
    assert again.ok == 0  # an attach counts those from results.jsonl itself
