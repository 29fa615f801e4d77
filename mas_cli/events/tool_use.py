"""How each tool was called across run logs, and how often the tool cache answered.

A pure reader: it streams every events.jsonl under a home, one event at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from msgspec import Struct, field

from mas_cli.errors import LogFormatError
from mas_cli.events import logged as ev
from mas_cli.events.reader import StructReader
from mas_cli.events.store import EVENTS, run_ids, runs_dir


class ToolUse(Struct):
    """One tool's calls; `lookups` are the calls the cache was asked about."""

    calls: int = 0
    lookups: int = 0
    hits: int = 0
    saved_s: float = 0.0

    @property
    def hit_rate(self) -> float | None:
        """Hits per lookup; None when the cache was never asked."""
        return self.hits / self.lookups if self.lookups else None


class ToolUseReport(Struct):
    """Tool use by tool name, over the runs read."""

    tools: dict[str, ToolUse] = field(default_factory=dict)
    runs: int = 0
    unreadable_runs: int = 0

    def add(self, event: ev.ToolCallEvent) -> None:
        """Count one tool_call event."""
        use = self.tools.setdefault(event.tool, ToolUse())
        use.calls += 1
        if event.cache_key is not None:
            use.lookups += 1
        if event.cached:
            use.hits += 1
            use.saved_s += event.saved_s or 0.0


def tool_use(home: Path) -> ToolUseReport:
    """Tool calls and cache hits per tool, over every run under this home."""
    folder = runs_dir(home)
    return tool_use_in(folder / run_id / EVENTS for run_id in run_ids(home))


def tool_use_in(paths: Iterable[Path]) -> ToolUseReport:
    """Tool calls and cache hits per tool, over these logs; unreadable logs are counted."""
    report = ToolUseReport()
    for path in paths:
        report.runs += 1
        try:
            for event in StructReader(path):
                if isinstance(event, ev.ToolCallEvent):
                    report.add(event)
        except LogFormatError:
            report.unreadable_runs += 1
    return report
