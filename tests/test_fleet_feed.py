"""How the submitter feeds a Temporal batch's items (fleet/feed.py) and lists those
never run when it stops (fleet/follow.py `finish`), against a fake workflow that takes pages
while it has room: every unreadable line gets one dead letter whichever feed reads it (a
detached submitter, then `mas resume`), and a stopped batch lists each item never run once,
however often it is followed to its end (`mas batch status`, `mas resume`)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from mas_cli.batch.folder import BatchFolder
from mas_cli.batch.runner import Tally
from mas_cli.fleet.feed import PAGE, feed
from mas_cli.fleet.follow import Books, finish
from mas_cli.fleet.messages import Page, Status
from mas_cli.spec.loader import Crew, load_crew

CREW = Path(__file__).resolve().parent.parent / "crews" / "fraud-review" / "crew.yaml"
LINES = 450
BAD = (250, 430)  # one in the second page, one past it


class Workflow:
    """Takes `room` pages (None: every page), as the workflow's feed update does."""

    id = "b-x"

    def __init__(self, room: int | None) -> None:
        self.room, self.fed = room, 0

    async def execute_update(self, _name: str, page: Page, **_: Any) -> int:
        if page.fed > self.fed and (self.room is None or self.room > 0):
            self.fed = page.fed
            self.room = None if self.room is None else self.room - 1
        return self.fed


def items_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    rows = [
        f"not json {n}\n" if n in BAD else json.dumps({"transaction": f"tx-{n}"}) + "\n"
        for n in range(1, LINES + 1)
    ]
    path.write_text("".join(rows))
    return path


def books(tmp_path: Path, items: Path | None = None) -> Books:
    """A new batch's books (`items` given), or those of the batch as batch.json has it."""
    folder = BatchFolder(tmp_path / "batches" / "b-20260101T000000000-abcdef")
    if items is None:
        info = json.loads((folder.path / "batch.json").read_text())
    else:
        info = {"inputs_path": str(items), "crew_path": str(CREW), "options": {"key": None},
                "status": "running"}  # fmt: skip
        folder.write_info(info)
    return Books(folder, info, Tally(), lambda _t: None)


def fed(crew: Crew, book: Books, workflow: Workflow, after: int) -> bool:
    return asyncio.run(feed(workflow, crew, book, key=None, after=after, wait=False))


def dead(book: Books) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (book.folder.path / "dead.jsonl").read_text().splitlines()]


def test_a_bad_line_gets_one_dead_letter_across_a_detach_and_a_resume(tmp_path: Path) -> None:
    crew, book = load_crew(CREW), books(tmp_path, items_file(tmp_path))
    workflow = Workflow(room=1)
    assert not fed(crew, book, workflow, after=0)  # detached: the first page only
    assert workflow.fed == PAGE
    workflow.room = None
    assert fed(crew, book, workflow, after=workflow.fed)  # `mas resume` feeds the rest
    letters = dead(book)
    assert sorted(d["reason"].split(": ")[0] for d in letters) == [
        f"{book.info['inputs_path']}:{n}" for n in BAD
    ]


def test_a_stopped_batch_lists_each_line_never_run_once_however_often_followed(
    tmp_path: Path,
) -> None:
    crew, book = load_crew(CREW), books(tmp_path, items_file(tmp_path))
    workflow = Workflow(room=1)
    assert not fed(crew, book, workflow, after=0)
    stopped = Status(fed=workflow.fed, closed=False, reason="batch stopped: max_cost_usd 1")
    finish(book, stopped)
    for _ in range(2):  # `mas batch status`, then `mas resume`, after it stopped
        finish(books(tmp_path), stopped)
    letters = dead(book)
    assert len(letters) == LINES  # no item ran: each item, and each bad line, listed once
    assert max(Counter(d["key"] for d in letters).values()) == 1
    bad = [d for d in letters if not d["reason"].startswith("not run:")]
    assert len(bad) == len(BAD)


def test_a_number_key_and_the_same_key_as_text_reach_the_workflow_as_two_or_a_dead_letter(
    tmp_path: Path,
) -> None:
    # The feed passed {"id": "1"} over as a repeat of {"id": 1}: one item silently never ran.
    keys: list[str] = []
    repeats = Counter[str]()

    class Keeping(Workflow):
        async def execute_update(self, _name: str, page: Page, **_: Any) -> int:
            if page.fed > self.fed:
                keys.extend(item.key for item in page.items)
                repeats["duplicates"] += page.duplicates
            return await super().execute_update(_name, page)

    items = tmp_path / "items.jsonl"
    rows = [
        {"id": 1, "transaction": "a"},
        {"id": 2, "transaction": "b"},
        {"id": "1", "transaction": "c"},
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    crew, book = load_crew(CREW), books(tmp_path, items)
    workflow = Keeping(room=None)
    assert asyncio.run(feed(workflow, crew, book, key="id", after=0, wait=False))
    assert keys == ["1", "2"]
    [letter] = dead(book)
    assert letter["reason"].startswith(f'{items}:3: id "1" is a string, but on line 1')
    assert repeats["duplicates"] == 0
