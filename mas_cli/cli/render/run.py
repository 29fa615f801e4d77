"""`mas run`: live progress on stderr, the crew's outputs on stdout, one closing line.

Lines go out through render/plain.py's `eprint`: to a pipe or a file, a run loads no rich."""

from __future__ import annotations

import json
import sys
from functools import singledispatch
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct, field

from mas_cli.cli.render.plain import STATUS_STYLE, eprint, escape, json_out, styled, usd
from mas_cli.cli.render.safe import safe
from mas_cli.events import models as ev
from mas_cli.events.logged import NOT_WRITTEN
from mas_cli.events.spend import Spend
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.engine.outcomes import RunResult
    from mas_cli.spec.models import CrewSpec


class Progress(Struct):
    """Listens to the run's events and prints one line per step on stderr."""

    spend: Spend = field(default_factory=Spend)
    said: set[str] = field(default_factory=set)
    """Stop reasons already printed: a task stopped by the run's limit does not repeat it."""

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.LlmCall):
            self.spend.add(event)
        line = self._line(event)
        if line:
            eprint(line)

    def _line(self, event: ev.Event) -> str | None:
        if isinstance(event, ev.LimitHitEvent):
            self.said.add(event.message)
        if isinstance(event, ev.TaskFinished) and event.reason in self.said:
            event = event.model_copy(update={"reason": None})
        return progress_line(event, self._spent())

    def _spent(self) -> str:
        spend = self.spend
        spent = f"{plural(spend.llm_calls, 'call')}, {spend.tokens:,} tokens"
        if spend.cost is None:
            return spent + ", cost unknown"
        return spent + (f", {usd(spend.cost)}" if spend.cost else "")


@singledispatch
def progress_line(_event: ev.Event, _spent: str) -> str | None:
    """The progress line for one event, or None for events not worth a line."""
    return None


@progress_line.register
def _(event: ev.TaskStarted, _spent: str) -> str | None:
    return f"[bold]▶ {escape(event.task or '')}[/] [dim]({escape(event.agent or '')})[/]"


@progress_line.register
def _(event: ev.LlmCall, spent: str) -> str | None:
    if event.replayed:
        where = f"{escape(event.task or '')} turn {event.turn} {escape(event.model)}"
        return f"  {where} [dim]replayed from the recording, no spend · run: {spent}[/]"
    status = "" if event.status == "ok" else f" [red]{event.status}: {escape(event.error or '')}[/]"
    estimate = "~" if event.usage_source == "estimate" else ""
    tokens = f"{estimate}{event.input_tokens}→{event.output_tokens}"
    return (
        f"  {escape(event.task or '')} turn {event.turn} {escape(event.model)} {tokens} tokens "
        f"{event.latency_s * 1000:.0f} ms{status} [dim]· run: {spent}[/]"
    )


@progress_line.register
def _(event: ev.ToolCallEvent, _spent: str) -> str | None:
    if event.status != "ok":  # a failed tool call is told to the model; the user hears it too
        what = f"tool {escape(event.tool)} {event.status}: {escape(event.error or '')}"
        return f"[yellow]  {escape(event.task or '')} warning: {what}[/]"
    cached = f" cached (saved {(event.saved_s or 0) * 1000:.0f} ms)" if event.cached else ""
    if event.replayed:
        cached = " done in the run resumed: not made again"
    status = styled(event.status, "" if event.status == "ok" else "red")
    where = escape(event.task or "")
    return f"  {where} tool {escape(event.tool)} {status}{cached} {event.latency_s * 1000:.0f} ms"


@progress_line.register
def _(event: ev.Warning_, _spent: str) -> str | None:
    return f"[yellow]  warning: {escape(event.message)}[/]"


@progress_line.register
def _(event: ev.LimitHitEvent, _spent: str) -> str | None:
    return f"[red]■ {escape(event.message)}[/]"


@progress_line.register
def _(event: ev.StateWrite, _spent: str) -> str | None:
    if event.accepted:
        return None
    task, key, reason = escape(event.task or ""), escape(event.key), escape(event.reason or "")
    if (event.reason or "").startswith(NOT_WRITTEN):  # not a refusal of its own
        return f"[dim]  {task} state {key} {reason}[/]"
    return f"[red]  {task} state {key} refused: {reason}[/]"


@progress_line.register
def _(event: ev.Retry, _spent: str) -> str | None:
    return (
        f"[yellow]  {escape(event.task or '')} retry {event.what} ({escape(event.reason[:120])})[/]"
    )


@progress_line.register
def _(event: ev.RateLimited, _spent: str) -> str | None:
    where = f"{escape(event.task or '')} turn {event.turn}"
    what = f"rate limit {escape(event.limit)}: {escape(event.reason)}"
    return f"[yellow]  {where} waits {event.wait_s:.2f} s for {what}[/]"


@progress_line.register
def _(event: ev.Warning_, _spent: str) -> str | None:
    return f"[yellow]warning: {escape(event.message)}[/]"


@progress_line.register
def _(event: ev.TaskFinished, _spent: str) -> str | None:
    mark = "✓" if event.status == "ok" else "✗"
    head = styled(f"{mark} {escape(event.task or '')}", STATUS_STYLE.get(event.status, ""))
    return f"{head} {_status(event.status, event.reason)}"


class ToolErrors(Struct):
    """Counts the tool calls that failed, for the closing line (listens even with --quiet)."""

    count: int = 0

    def __call__(self, event: ev.Event) -> None:
        self.count += isinstance(event, ev.ToolCallEvent) and event.status != "ok"


def run_result(
    result: RunResult, spec: CrewSpec, *, as_json: bool = False, tool_errors: int = 0
) -> None:
    """The outputs of the crew's last tasks on stdout (or output.json), then the closing line."""
    if as_json:
        if result.output is not None:  # what output.json holds, even when the disk refused it
            json_out(result.output)
        else:
            _print_json(Path(result.run_dir) / "output.json")
    else:
        _final_outputs(result, spec)
    for problem in (p for p in result.unwritten if p != result.reason):
        eprint(f"[yellow]warning:[/] {escape(problem)}")
    status = _status(result.status, result.reason)
    failed = f" · [yellow]{plural(tool_errors, 'tool call')} failed[/]" if tool_errors else ""
    log = f"log {escape(result.run_dir)}/events.jsonl"
    eprint(f"run {result.run_id} {status}{failed} · {log}")


def _status(status: str, reason: str | None) -> str:
    """`stopped: max_turns 5 reached ...`, without saying `stopped` twice."""
    word = styled(status, STATUS_STYLE.get(status, ""))
    return f"{word}: {escape(reason.removeprefix(f'{status}: '))}" if reason else word


def _print_json(path: Path) -> None:
    json_out(json.loads(path.read_text(encoding="utf-8")))


def _final_outputs(result: RunResult, spec: CrewSpec) -> None:
    for task_id in _final_tasks(result, spec):
        outcome = result.tasks[task_id]
        status = styled(outcome.status, STATUS_STYLE.get(outcome.status, ""))
        eprint(f"[bold]── {escape(task_id)}[/] [dim]({escape(outcome.agent or '')})[/] {status}")
        if outcome.output:  # as the crew wrote it (controls made visible): no markup, no wrap
            sys.stdout.write(safe(outcome.output.rstrip("\n")) + "\n")
            sys.stdout.flush()


def _final_tasks(result: RunResult, spec: CrewSpec) -> list[str]:
    """The manager's answer; else tasks nobody waits for, and any that did not end well."""
    from mas_cli.spec import graph  # here: `mas runs` and `show` render without the crew models
    from mas_cli.spec.models import MANAGER_TASK

    if spec.process == "hierarchical":
        return [MANAGER_TASK] if MANAGER_TASK in result.tasks else []
    needed = {d for waits in graph.edges(spec).values() for d in waits}
    return [
        t.id
        for t in spec.tasks
        if t.id in result.tasks and (t.id not in needed or result.tasks[t.id].status != "ok")
    ]
