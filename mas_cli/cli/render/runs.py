"""`mas runs` as a table, `mas show` as a tree."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import singledispatch
from typing import TYPE_CHECKING, Any

from mas_cli.cli.render.fit import print_line, print_table, print_tree
from mas_cli.cli.render.grid import Branch, Grid
from mas_cli.cli.render.plain import STATUS_STYLE, eprint, escape, styled, usd
from mas_cli.cli.render.safe import one_line
from mas_cli.cli.render.sheet import column_places
from mas_cli.events import logged as ev
from mas_cli.events.spend import money
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.events.prune import Pruned
    from mas_cli.events.runs import Node, RunRow, RunTree
    from mas_cli.events.transcript import Transcript


def runs_table(rows: list[RunRow]) -> None:
    """Recent runs, newest first."""
    table = Grid(header_style="bold")
    chain = any(r.resumed_from for r in rows)  # `mas resume`: which run each one continues
    names = ("run", "crew", "status", "started", "duration", "calls", "tokens", "cost")
    for name in names + (("resumes",) if chain else ()):
        right = name in {"duration", "calls", "tokens", "cost"}
        table.add_column(name, justify="right" if right else "left", no_wrap=name != "crew")
    places = column_places([_decimal(r.cost_usd) for r in rows])
    for r in rows:
        resumes = (r.resumed_from or "-",) if chain else ()
        table.add_row(
            r.run_id,
            escape(one_line(r.crew)),
            styled(r.status, STATUS_STYLE.get(r.status, "yellow")),
            r.started[5:19].replace("T", " "),
            f"{r.duration_s:.2f}s" if r.duration_s is not None else "-",
            str(r.llm_calls),
            f"{r.tokens:,}",
            usd(_decimal(r.cost_usd), places=places),
            *resumes,
        )
    print_table(table)


def pruned(result: Pruned, dry_run: bool) -> None:
    """What `mas runs prune` removed, or would remove."""
    verb = "would remove" if dry_run else "removed"
    count = len(result.removed)
    size = result.bytes_freed / 1e6
    print_line(
        f"{verb} {count} run{'s' * (count != 1)} ({size:.1f} MB), kept {result.kept}"
        + (" (the tool cache is left alone)" if count else "")
    )
    if result.maybe_live:
        eprint(
            f"[yellow]kept {len(result.maybe_live)} unfinished run(s) written in the last hour "
            f"(they may still be running): {', '.join(result.maybe_live)}[/]"
        )


def _money(cost: float | None) -> str:
    return usd(_decimal(cost))


def _decimal(cost: float | None) -> Decimal | None:
    return None if cost is None else Decimal(str(cost))


def run_tree(tree: RunTree, words: Transcript | None = None) -> None:
    """The run, its tasks, their turns and calls; limit hits in red. With `words` (--full),
    each model call's text and each tool call's arguments and result under it."""
    if tree.root is None or not isinstance(tree.root.event, ev.RunStarted):
        eprint("[yellow]this log has no run_started event; showing what it has[/]")
    top = Branch(_run_label(tree))
    said = tree.finished.reason if tree.finished else None
    for node in tree.tasks:
        _add(top, node, said, words)
    print_tree(top)  # long lines wrap under their branch, never cut
    if tree.skipped_lines:
        skipped = plural(tree.skipped_lines, "unreadable line")
        eprint(f"[yellow]{skipped} skipped ({escape(tree.first_bad)})[/]")


def _run_label(tree: RunTree) -> str:
    started = tree.root.event if tree.root else None
    name = escape(one_line(started.crew)) if isinstance(started, ev.RunStarted) else "?"
    run_id = started.run_id if started else "?"
    done = tree.finished
    if done is None and tree.live:
        by = f"process {tree.pid}" if tree.pid else "a live process holds it"
        return f"[bold]{name}[/] run {run_id} [yellow]running[/] ({by})"
    if done is None:
        why = "(no run_finished, and no process holds it: killed)"
        return f"[bold]{name}[/] run {run_id} [red]killed[/] {why}"
    status = styled(done.status, STATUS_STYLE.get(done.status, ""))
    reason = _reason(done.status, done.reason)
    if isinstance(started, ev.RunStarted) and started.resumed_from:
        reason += f" (resumes run {started.resumed_from})"
    return (
        f"[bold]{name}[/] run {run_id} {status}{reason}  {done.duration_s:.2f}s · "
        f"{plural(done.llm_calls, 'model call')} · {plural(done.tool_calls, 'tool call')} · "
        f"{done.input_tokens + done.output_tokens:,} tokens · {_money(done.cost_usd)}"
    )


def _add(parent: Branch, node: Node, said: str | None, words: Transcript | None) -> None:
    branch = parent.add(_label(node, said))
    for line in _words(node.event, words) if words else []:
        branch.add(line)
    for child in node.children:
        _add(branch, child, said, words)


def _words(event: ev.Event | None, words: Transcript) -> list[str]:
    """--full: what the model said, what a tool was given and what it returned."""
    return [f"[dim]{name}:[/] {escape(value)}" for name, value in _word_pairs(event, words)]


def _word_pairs(event: ev.Event | None, words: Transcript) -> list[tuple[str, str]]:
    task = (event.task or "") if event else ""
    if isinstance(event, ev.LlmCall):
        text = words.texts.get((task, event.turn or 0, event.attempt))
        return [("text", text)] if text else []
    if isinstance(event, ev.ToolCallEvent) and event.tool_call_id:
        key = (task, event.tool_call_id)
        shown = [("arguments", json.dumps(words.arguments.get(key), ensure_ascii=False))]
        return shown + ([("result", words.results[key])] if key in words.results else [])
    return []


def tree_json(tree: RunTree, words: Transcript | None = None) -> dict[str, Any]:
    """`mas show --json`: the run's first and last events, and the tree of the rest."""
    return {
        "run": _event_json(tree.root.event if tree.root else None),
        "finished": _event_json(tree.finished),
        "tasks": [_node_json(n, words) for n in tree.tasks],
        "skipped_lines": tree.skipped_lines,
    }


def _node_json(node: Node, words: Transcript | None) -> dict[str, Any]:
    out: dict[str, Any] = {"turn": node.turn} if node.turn is not None else {}
    out |= {"event": _event_json(node.event)} if node.event is not None else {}
    out |= {"finished": _event_json(node.finished)} if node.finished is not None else {}
    if words:
        out |= dict(_word_pairs(node.event, words))
    out["children"] = [_node_json(c, words) for c in node.children]
    return out


def _event_json(event: ev.Event | None) -> dict[str, Any] | None:
    return None if event is None else ev.as_json(event)


def _label(node: Node, said: str | None) -> str:
    if node.turn is not None:
        return f"turn {node.turn}"
    event = node.event
    if isinstance(event, ev.TaskStarted | ev.TaskFinished):
        return _task_label(node, said)
    return _event_label(event)


def _fired_here(node: Node) -> bool:
    """A limit hit in this task's own tree says the reason where it fired."""
    return any(
        isinstance(child.event, ev.LimitHitEvent) or _fired_here(child) for child in node.children
    )


def _reason(status: str, reason: str | None) -> str:
    return f": {escape(reason.removeprefix(f'{status}: '))}" if reason else ""


def _task_label(node: Node, said: str | None) -> str:
    done = node.finished if node.finished is not None else node.event
    event = node.event
    agent = escape(one_line(event.agent or "")) if event else ""
    task = escape(one_line(event.task or "")) if event else ""
    if not isinstance(done, ev.TaskFinished):
        return f"[bold]{task}[/] ({agent}) [yellow]not finished[/]"
    status = styled(done.status, STATUS_STYLE.get(done.status, ""))
    repeated = done.reason == said or _fired_here(node)  # said once, where it fired
    reason = "" if repeated else _reason(done.status, done.reason)
    turns = sum(child.turn is not None for child in node.children) or done.turns  # as listed
    if done.carried_from:
        return f"[bold]{task}[/] ({agent}) {status}  carried over from run {done.carried_from}"
    return (
        f"[bold]{task}[/] ({agent}) {status}{reason}  {plural(turns, 'turn')} "
        f"{done.duration_s:.2f}s"
    )


@singledispatch
def _event_label(event: ev.Event | None) -> str:
    return escape(str(getattr(event, "type", "event")))


@_event_label.register
def _(event: ev.LlmCall) -> str:
    model = escape(one_line(event.model))
    if event.replayed:
        calls = f" → {', '.join(event.tool_calls)}" if event.tool_calls else ""
        return f"model {model} replayed from the recording, no spend{escape(calls)}"
    status = "" if event.status == "ok" else f" [red]{event.status}: {escape(event.error or '')}[/]"
    attempt = f" attempt {event.attempt}" if event.attempt > 1 else ""
    calls = f" → {', '.join(event.tool_calls)}" if event.tool_calls else ""
    tokens = f"{event.input_tokens:,}→{event.output_tokens:,} tokens"
    latency = f"{event.latency_s * 1000:.0f} ms"
    cost = "cost unknown" if event.cost_usd is None else usd(money(event.cost_usd))
    return f"model {model}{attempt} {tokens} {cost} {latency}{status}{escape(calls)}"


@_event_label.register
def _(event: ev.Warning_) -> str:
    return f"[yellow]warning: {escape(event.message)}[/]"


@_event_label.register
def _(event: ev.ToolCallEvent) -> str:
    text = event.status + (f": {escape(event.error)}" if event.error else "")
    status = styled(text, "" if event.status == "ok" else "red")
    cached = f" cached (saved {(event.saved_s or 0) * 1000:.0f} ms)" if event.cached else ""
    if event.replayed:
        cached = " done in an earlier run: not made again"
    return f"tool {escape(one_line(event.tool))} {status}{cached} {event.latency_s * 1000:.0f} ms"


@_event_label.register
def _(event: ev.Warning_) -> str:
    return f"[yellow]warning: {escape(event.message)}[/]"


@_event_label.register
def _(event: ev.LimitHitEvent) -> str:
    return f"[bold red]limit {escape(event.message)}[/]"


@_event_label.register
def _(event: ev.StateWrite) -> str:
    reason = escape(event.reason or "")
    not_made = (event.reason or "").startswith(ev.NOT_WRITTEN)
    verdict = (
        f"v{event.version}"
        if event.accepted
        else reason
        if not_made
        else f"[red]refused: {reason}[/]"
    )
    return f"state {escape(event.key)} = {escape(repr(event.value))} {verdict}"


@_event_label.register
def _(event: ev.Retry) -> str:
    return f"[yellow]retry {event.what} attempt {event.attempt}: {escape(event.reason[:200])}[/]"


@_event_label.register
def _(event: ev.RateLimited) -> str:
    what = f"{escape(event.limit)}: {escape(event.reason)}"
    return f"[yellow]waited {event.wait_s:.2f}s for rate limit {what}[/]"


@_event_label.register
def _(event: ev.Handoff) -> str:
    who = f"{escape(event.from_agent)} → {escape(event.to_agent)}"
    return f"[bold]handoff {who}[/] (depth {event.depth})"


@_event_label.register
def _(event: ev.HistoryTrimmed) -> str:
    tokens = f"{event.tokens_before:,}→{event.tokens_after:,} tokens"
    return f"history trimmed: {event.dropped_messages} messages dropped, {tokens}"
