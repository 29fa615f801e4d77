"""Spend across runs (`--all`, `--crew`, `--since`): per crew per day, one log at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mas_cli.cost.tally import Tally
from mas_cli.errors import UsageError
from mas_cli.events.store import stamp_time

_SPAN = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_RUN_ID_TIME = re.compile(r"^(\d{8}T\d{6})")


def parse_since(text: str, now: datetime | None = None, *, flag: str = "--since") -> datetime:
    """`7d`, `12h`, `2w`, or a date (`2026-11-01`) -> the UTC moment it means.

    Raises:
        UsageError: anything else.
    """
    now = now or datetime.now(UTC)
    hint = f"e.g. {flag} 7d, 12h, 2w or 2026-11-01"
    match = _SPAN.match(text.strip())
    if match:
        try:
            return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
        except OverflowError:  # `99999999d`: before the year 1
            raise UsageError(f"{flag} {text!r} reaches back past the year 1", hint=hint) from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a span or a date", hint=hint) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Day:
    """What one crew spent on one day."""

    day: str
    crew: str
    runs: int = 0
    unfinished: int = 0
    total: Tally = field(default_factory=Tally)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"day": self.day, "crew": self.crew, "runs": self.runs, **self.total.to_json()}


@dataclass
class History:
    """Spend per crew per day, and in all."""

    days: dict[tuple[str, str], Day] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)
    runs: int = 0
    unfinished: int = 0
    replays: int = 0  # runs replayed from a recording: no new spend, so not counted

    def sorted_days(self) -> list[Day]:
        """Oldest day first, crews by name within a day."""
        return [self.days[k] for k in sorted(self.days)]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "runs": self.runs,
            "unfinished_runs": self.unfinished,
            "replayed_runs_not_counted": self.replays,
            "days": [d.to_json() for d in self.sorted_days()],
            "total": self.total.to_json(),
        }


def spend_history(
    paths: Iterable[Path], crew: str | None = None, since: datetime | None = None
) -> History:
    """Read each run log (skipping, unread, runs whose id says they began before `since`)."""
    from mas_cli.cost.report import read_run  # the log readers: not for parse_since

    history = History()
    for path in paths:
        if since is not None and _started_before(path.parent.name, since):
            continue
        run = read_run(path)
        started = _moment(run.started) or _id_moment(run.run_id)
        if (crew and run.crew != crew) or (since and started and started < since):
            continue
        if run.replay_of is not None:
            history.replays += 1
            continue
        _add(history, run.crew, started, run.total, run.finished)
    return history


def _add(history: History, crew: str, started: datetime | None, total: Tally, done: bool) -> None:
    day_name = started.date().isoformat() if started else "unknown"
    day = history.days.setdefault((day_name, crew), Day(day_name, crew))
    for target in (day, history):
        target.runs += 1
        target.unfinished += not done
        target.total.merge(total)


def _started_before(run_id: str, since: datetime) -> bool:
    moment = _id_moment(run_id)
    return moment is not None and since - moment > timedelta(seconds=1)  # since may be year 1


def _id_moment(run_id: str) -> datetime | None:
    match = _RUN_ID_TIME.match(run_id)
    if not match:
        return None
    return stamp_time(match[1])


def _moment(ts: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
