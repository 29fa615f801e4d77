"""`mas run`: live progress on stderr, the crew's outputs on stdout, one closing line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from mas_cli.cli.render.base import json_out, stderr, stdout
from mas_cli.events import models as ev
from mas_cli.spec import graph

if TYPE_CHECKING:
    from mas_cli.engine.outcomes import RunResult
    from mas_cli.spec.models import CrewSpec

STATUS_STYLE = {"ok": "green", "failed": "red", "stopped": "red", "interrupted": "yellow", "skipped": "dim", "cancelled": "yellow"}


@dataclass
class Progress:
    """Listens to the run's events and prints one line per step on stderr."""

    calls: int = 0
    tokens: int = 0
    cost: float | None = 0.0

    def __call__(self, event: ev.Event) -> None:
        line = self._line(event)
        if line:
            stderr.print(line)

    def _line(self, event: ev.Event) -> str | None:
        where = escape(f"{event.task or ''}")
        if isinstance(event, ev.TaskStarted):
            return f"[bold]▶ {where}[/] [dim]({escape(event.agent or '')})[/]"
        if isinstance(event, ev.LlmCall):
            return self._llm(event, where)
        if isinstance(event, ev.ToolCall):
            cached = " cached" if event.cached else ""
            status = f"[red]{event.status}[/]" if event.status != "ok" else "ok"
            return f"  {where} tool {escape(event.tool)} {status}{cached} {event.latency_s * 1000:.0f} ms"
        if isinstance(event, ev.LimitHitEvent):
            return f"[red]■ {escape(event.message)}[/]"
        if isinstance(event, ev.StateWrite) and not event.accepted:
            return f"[red]  {where} state {escape(event.key)} refused: {escape(event.reason or '')}[/]"
        if isinstance(event, ev.Retry):
            return f"[yellow]  {where} retry {event.what} ({escape(event.reason[:120])})[/]"
        if isinstance(event, ev.TaskFinished):
            style = STATUS_STYLE.get(event.status, "")
            reason = f": {escape(event.reason)}" if event.reason else ""
            return f"[{style}]{'✓' if event.status == 'ok' else '✗'} {where} {event.status}[/]{reason}"
        return None

    def _llm(self, event: ev.LlmCall, where: str) -> str:
        self.calls += 1
        self.tokens += event.input_tokens + event.output_tokens
        if self.cost is not None:
            self.cost = None if event.cost_usd is None else self.cost + event.cost_usd
        spent = f"{self.calls} calls, {self.tokens:,} tokens" + (f", ${self.cost:.4f}" if self.cost else "")
        status = "" if event.status == "ok" else f" [red]{event.status}: {escape(event.error or '')}[/]"
        estimate = "~" if event.usage_source == "estimate" else ""
        return (
            f"  {where} turn {event.turn} {escape(event.model)} {estimate}{event.input_tokens}→{event.output_tokens} "
            f"tokens {event.latency_s * 1000:.0f} ms{status} [dim]· run: {spent}[/]"
        )


def run_result(result: RunResult, spec: CrewSpec, *, as_json: bool = False) -> None:
    """The outputs of the crew's last tasks on stdout (or output.json), then the closing line."""
    if as_json:
        _print_json(Path(result.run_dir) / "output.json")
    else:
        _final_outputs(result, spec)
    style = STATUS_STYLE.get(result.status, "")
    reason = f" ({escape(result.reason)})" if result.reason else ""
    stderr.print(
        f"run {result.run_id} [{style}]{result.status}[/]{reason} · log {escape(result.run_dir)}/events.jsonl"
    )


def _print_json(path: Path) -> None:
    json_out(json.loads(path.read_text(encoding="utf-8")))


def _final_outputs(result: RunResult, spec: CrewSpec) -> None:
    deps = graph.edges(spec)
    needed = {d for waits in deps.values() for d in waits}
    for task in spec.tasks:
        outcome = result.tasks.get(task.id)
        if outcome is None or (task.id in needed and outcome.status == "ok"):
            continue
        style = STATUS_STYLE.get(outcome.status, "")
        stdout.print(f"[bold]── {escape(task.id)}[/] [dim]({escape(outcome.agent or '')})[/] [{style}]{outcome.status}[/]")
        if outcome.output:
            stdout.print(escape(outcome.output), highlight=False)
