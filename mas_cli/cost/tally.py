"""What a group of events spent: model calls, tokens, dollars, retries, tool calls and the cache.

The model calls are summed by `events.spend.Spend` (the same sums as the run's totals and
`mas runs`): exact Decimal money; a call without a cost (a model with no price) is counted in
`unpriced_calls`, the row's cost is then unknown (None) and `known_cost` a lower bound. On top
of those this counts failed and retried calls, estimated usage, tool calls and the cache.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from msgspec import field

from mas_cli.events import logged as ev
from mas_cli.events.spend import Spend, money


class Tally(Spend):
    """Sums over the events of one row, one run, or several runs."""

    failed_calls: int = 0
    estimated_calls: int = 0
    retries: int = 0
    retry_cost: Decimal = Decimal(0)
    tool_calls: int = 0
    cache_hits: int = 0
    tool_time_s: float = 0.0
    saved_s: float = 0.0
    saved_tokens: int = 0
    saved_cost: Decimal = Decimal(0)
    tasks: set[str] = field(default_factory=set)
    unpriced_models: set[str] = field(default_factory=set)

    @property
    def cost_per_task(self) -> Decimal | None:
        """Cost divided by the tasks this row worked on (None when unknown or no task)."""
        cost = self.cost
        return cost / len(self.tasks) if cost is not None and self.tasks else None

    def add_llm_call(self, event: ev.LlmCall, run_id: str = "") -> None:
        """Count one model call attempt; one answered from a recording (`mas resume`) was not
        made and spent nothing: it is not counted."""
        if event.replayed:
            return
        cost = self.add(event)
        retry = event.attempt > 1
        self.failed_calls += event.status != "ok"
        self.estimated_calls += event.usage_source == "estimate"
        self.retries += retry
        if event.cost_usd is None:
            self.unpriced_models.add(event.model)
        if retry and cost is not None:
            self.retry_cost += cost
        self.tasks.add(f"{run_id}/{event.task}")

    def add_tool_call(self, event: ev.ToolCallEvent, run_id: str = "") -> None:
        """Count one tool call; a cache hit adds the time (and any spend) it saved. A side effect
        done in an earlier run and given back by `mas resume` is not counted."""
        if event.replayed:
            return
        self.tool_calls += 1
        self.tool_time_s += event.latency_s
        self.tasks.add(f"{run_id}/{event.task}")
        if not event.cached:
            return
        self.cache_hits += 1
        self.saved_s += event.saved_s or 0.0
        # A tool that calls a model itself may record what the hit avoided.
        self.saved_tokens += int(getattr(event, "saved_tokens", 0) or 0)
        self.saved_cost += money(getattr(event, "saved_cost_usd", None)) or Decimal(0)

    def merge(self, other: Tally) -> None:
        """Add another tally into this one."""
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.tasks |= other.tasks
        self.unpriced_models |= other.unpriced_models

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; money as numbers, an unknown cost as null."""
        out: dict[str, Any] = {name: _plain(getattr(self, name)) for name in _SUMMED}
        out["tasks"] = len(self.tasks)
        out["unpriced_models"] = sorted(self.unpriced_models)
        out["cost_usd"] = _plain(self.cost)
        out["cost_per_task_usd"] = _plain(self.cost_per_task)
        return out


_SUMMED = (  # in the order `to_json` gives them
    "llm_calls",
    "failed_calls",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "known_cost",
    "unpriced_calls",
    "estimated_calls",
    "retries",
    "retry_cost",
    "tool_calls",
    "cache_hits",
    "tool_time_s",
    "saved_s",
    "saved_tokens",
    "saved_cost",
)


def _plain(value: Any) -> Any:
    """Decimal -> float for JSON (the short decimals we hold print back exactly)."""
    return float(value) if isinstance(value, Decimal) else value
