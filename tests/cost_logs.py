"""Run logs written by hand for the cost-report tests, with costs priced by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mas_cli.events import models as ev
from mas_cli.events.writer import EventWriter

D = Decimal


@dataclass
class Log:
    """Writes one run's events; run_finished totals are the sums of what was written."""

    home: Path
    run_id: str
    crew: str = "demo"
    day: str = "2026-11-20"
    offline: bool = False
    sums: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.writer = EventWriter(self.path)
        self.sums = {"llm_calls": 0, "tool_calls": 0, "cost": D(0)}
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            self.sums[name] = 0
        self.emit(ev.RunStarted, crew=self.crew, crew_path="crew.yaml", process="sequential")

    @property
    def path(self) -> Path:
        return self.home / "runs" / self.run_id / "events.jsonl"

    def emit(self, kind: type[ev.Event], **fields: Any) -> None:
        if kind is ev.RunStarted:
            fields["offline"] = self.offline
        self.writer.emit(
            kind(
                ts=f"{self.day}T10:00:00Z", run_id=self.run_id, trace_id="t", span_id="s", **fields
            )
        )

    def llm(self, agent: str, task: str, model: str, cost: str | None, **usage: Any) -> Log:
        """One model call; `cost` None means the model had no price."""
        fields = {"provider": "openai", "usage_source": "provider", **usage}
        self.emit(ev.LlmCall, agent=agent, task=task, model=model, cost_usd=_num(cost), **fields)
        self.sums["llm_calls"] += 1
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            self.sums[name] += usage.get(name, 0)
        self.sums["cost"] = (
            None if cost is None or self.sums["cost"] is None else self.sums["cost"] + D(cost)
        )
        return self

    def tool(self, agent: str, task: str, tool: str, **fields: Any) -> Log:
        self.emit(ev.ToolCallEvent, agent=agent, task=task, tool=tool, args_digest="a", **fields)
        self.sums["tool_calls"] += 1
        return self

    def finish(self, **overrides: Any) -> Path:
        sums = dict(self.sums)
        cost = sums.pop("cost")
        fields = {**sums, "cost_usd": _num(cost), "price_data_version": "genai-prices 0.2.3"}
        self.emit(ev.RunFinished, status="ok", duration_s=1.5, **{**fields, **overrides})
        return self.kill()

    def kill(self) -> Path:
        self.writer.close()
        return self.path


def _num(cost: str | Decimal | None) -> float | None:
    return None if cost is None else float(cost)


def priced_run(
    home: Path, run_id: str = "20261120T100000000-aaaaaa", *, unknown: bool = False, **kw: Any
) -> Log:
    """The hand-priced fixture (see test_prices for the rates):

    analyzer/analyze  gpt-4o-mini: 10,000 in (4,000 cached), 500 out      $0.0015
                      gpt-4o-mini: attempt 1 fails (429), nothing spent   $0
                      gpt-4o-mini: attempt 2, 1,000 in, 100 out            $0.00021
    aggregator/decide claude-sonnet-4-5: 37,000 in (30,000 read, 5,000
                      written), 1,000 out                                  $0.04875
    helper/summarize  llama3.1:8b (no price; with unknown=True): 500 in, 50 out   unknown
    tools: lookup twice (the second a cache hit saving 0.5 s), search once (a hit saving 1.25 s)
    """
    log = Log(home, run_id, **kw)
    log.llm(
        "analyzer",
        "analyze",
        "gpt-4o-mini",
        "0.0015",
        input_tokens=10_000,
        output_tokens=500,
        cache_read_tokens=4_000,
    )
    log.llm("analyzer", "analyze", "gpt-4o-mini", "0", status="error", error="429")
    log.llm(
        "analyzer",
        "analyze",
        "gpt-4o-mini",
        "0.00021",
        attempt=2,
        input_tokens=1_000,
        output_tokens=100,
    )
    log.tool("analyzer", "analyze", "lookup", latency_s=0.5)
    log.tool("analyzer", "analyze", "lookup", latency_s=0.001, cached=True, saved_s=0.5)
    log.llm(
        "aggregator",
        "decide",
        "claude-sonnet-4-5",
        "0.04875",
        provider="anthropic",
        input_tokens=37_000,
        output_tokens=1_000,
        cache_read_tokens=30_000,
        cache_write_tokens=5_000,
    )
    log.tool("aggregator", "decide", "search", latency_s=0.002, cached=True, saved_s=1.25)
    if unknown:
        log.llm("helper", "summarize", "llama3.1:8b", None, input_tokens=500, output_tokens=50)
    return log


def cheap_run(home: Path, run_id: str, cost: str, **kw: Any) -> Path:
    """A finished one-call run that cost exactly `cost`."""
    log = Log(home, run_id, **kw)
    log.llm("analyzer", "analyze", "gpt-4o-mini", cost, input_tokens=1_000, output_tokens=100)
    return log.finish()
