"""The loop detectors: pure functions from a closed trace's tally (or the rates) to findings.

    turns               an agent took more turns on a task than the threshold
    repeated_calls      the same tool with the same arguments, again and again in a trace
    repeated_failures   the same call failing the same way, again and again
    ping_pong           two agents (or two tool calls) taking turns for 6 steps or more
    cycle               three agents or more taking turns in the same order, 3 rounds or more
    monologue           the same model output several times running
    token_growth        input tokens rising turn after turn: the history is blowing up

Each finding says where, shows the pattern and where it first and last occurred, what was spent
inside it, and how to fix it. Beside each detector is its screen (`could_...`): from the signals
the fast pass notes about a trace, whether the detector could fire on it (see `detectors.py`,
where they are registered, and `stops.py` for limit hits, unfinished runs and rates).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from mas_cli.triage import cycles
from mas_cli.triage.contexts import context_window
from mas_cli.triage.findings import Finding, severity, short
from mas_cli.triage.repeats import BestRun
from mas_cli.triage.sums import Signals
from mas_cli.triage.thresholds import Thresholds
from mas_cli.triage.traces import DISTINCT, Repeat, Thread, Trace


def _cost(thread: Thread) -> float | None:
    return thread.cost if thread.priced else None


def could_turns(s: Signals, th: Thresholds) -> bool:
    """A thread past the turns threshold."""
    most = th.turns
    for t in s.threads.values():  # noqa: SIM110 (screens run at the end of every trace)
        if (t.max_turn or t.calls or t.starts) > most:  # Sums.turns, without the call
            return True
    return False


def _task(task: str) -> str:
    return f"task {task}" if task else "its task"


def _agent(agent: str) -> str:
    return f"agent {agent}" if agent else "the agent"


def _setting(agent: str, name: str) -> str:
    return f"agents.{agent}.{name}" if agent else f"agents.<name>.{name}"


def turns(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """Threads whose turns passed the threshold."""
    for t in trace.threads.values():
        if t.turns > th.turns:
            yield Finding(
                "turns",
                severity(t.turns, th.turns),
                trace.trace,
                t.agent,
                t.task,
                f"{_agent(t.agent)} took {t.turns} turns on {_task(t.task)} (threshold {th.turns})",
                f"{t.turns} turns",
                t.first,
                t.last,
                t.tokens,
                _cost(t),
                f"set max_turns: {th.turns} on {_agent(t.agent)} "
                f"({_setting(t.agent, 'max_turns')}), and give "
                f"{_task(t.task)} a clear end: an output_schema or an expected_output it "
                f"can meet",
                t.first_span,
                t.last_span,
                t.first_ts,
                t.last_ts,
            )


def could_repeat_calls(s: Signals, th: Thresholds) -> bool:
    """A tool called twice with the same arguments (or a threshold so low that once is enough)."""
    return th.repeated_calls < 2 or s.repeated_call


def repeated_calls(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """The same tool with the same arguments, `repeated_calls` times or more in one trace."""
    for (tool, args), r in trace.calls.items():
        if r.count < th.repeated_calls:
            continue
        agents = r.agents
        yield Finding(
            "repeated_calls",
            "error" if _no_news(r) or r.count >= 2 * th.repeated_calls else "warning",
            trace.trace,
            agents[0] if agents else r.agent,
            r.task,
            f"tool {tool} was called {r.count} times"
            f"{' with the same arguments' if args else ''}{_but(r.varied, 'arguments')}"
            f"{_by(agents)}{_results(r)} (threshold "
            f"{th.repeated_calls})",
            f"{tool}(args {short(args)}) ×{r.count}" if args else f"{tool} ×{r.count}",
            r.first,
            r.last,
            *_spend(r),
            _repeat_fix(tool, r, th),
            r.first_span,
            r.last_span,
            r.first_ts,
            r.last_ts,
            agents=agents if len(agents) > 1 else (),
        )


def _no_news(r: Repeat) -> bool:
    return r.same_output and bool(r.output)


def _by(agents: tuple[str, ...]) -> str:
    named = [a for a in agents if a]
    return f" by agent{'s' if len(named) > 1 else ''} {' and '.join(named)}" if named else ""


def _answers(r: Repeat) -> int:
    """How many different results the calls got (0 when the log shows none)."""
    return len(r.outputs - {""})


def _results(r: Repeat) -> str:
    if _no_news(r):
        return " and got the same result every time: no new information"
    if _answers(r) > 1:
        more = "+" if len(r.outputs) >= DISTINCT else ""
        return f" and got {_answers(r)}{more} different results"
    return ""


def _but(varied: frozenset[str], what: str) -> str:
    """What differed between repeats, beside their volatile parts ("" when nothing did)."""
    return f" (the {what} differ only in: {', '.join(sorted(varied))})" if varied else ""


def _spend(r: Repeat) -> tuple[int, float | None]:
    tokens, cost = r.spent
    return tokens, cost or None


def _repeat_fix(tool: str, r: Repeat, th: Thresholds) -> str:
    cap = f"set limits.max_identical_tool_calls: {max(1, th.repeated_calls - 1)}"
    if _answers(r) > 1:  # its answer changes: polled for a status, not a fixed fact
        return (
            f"tool {tool}'s answer changes between calls, as a status it is polled for does: "
            f"wait longer between polls (a backoff) and cap them ({cap}, or a max-polls count "
            f"the agent is told)"
        )
    if r.cached:
        return (
            f"tool {tool} is already answered from the cache ({r.cached} of {r.count} calls): "
            f"the repeats cost model turns, not tool runs; {cap}, and tell the agent to use the "
            f"result it already has"
        )
    return (
        f"declare tool {tool} deterministic (tools.{tool}.deterministic: true) so repeats are "
        f"answered from the cache, and {cap}"
    )


def could_fail(s: Signals, _th: Thresholds) -> bool:
    """A call that did not end ok."""
    return s.failed


def repeated_failures(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """The same call failing the same way, `repeated_failures` times or more in one trace."""
    for (kind, name, _), r in trace.failures.items():
        if r.count < th.repeated_failures:
            continue
        what = (
            f"tool {name}"
            if kind == "tool"
            else f"model {name}"
            if kind == "model"
            else name or kind
        )
        fix = (
            f"fix what makes {what} fail ({r.error[:80]}); a tool should return an error the "
            f"model can act on, "
            "and side_effect tools are never retried"
            if kind == "tool"
            else f"fix the cause ({r.error[:80]}) or stop retrying it: lower limits.max_retries, "
            "and check the key, "
            "the model name and the rate limits"
        )
        yield Finding(
            "repeated_failures",
            "error",
            trace.trace,
            r.agent,
            r.task,
            f"{what} failed {r.count} times the same way: {r.error[:120]}",
            f"{what} ✗ ×{r.count}",
            r.first,
            r.last,
            *_spend(r),
            fix,
            r.first_span,
            r.last_span,
            r.first_ts,
            r.last_ts,
        )


def could_ping_pong(s: Signals, th: Thresholds) -> bool:
    """Handoffs, enough agent starts for a ping-pong or a cycle, a state key passed between
    agents often enough, or a repeated tool call (an alternation of 3 repeats one)."""
    return (
        th.ping_pong < 3
        or bool(s.handoffs)
        or s.starts >= cycles.min_steps(th)
        or s.repeated_call
        or s.passed_state
    )


def ping_pong(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """Agents taking turns (two: ping_pong; more: cycle), or two tool calls taking turns."""
    priced = any(t.priced for t in trace.threads.values())
    kept = cycles.loops(trace.cycles, th)
    yield from cycles.findings(trace.trace, kept, th, priced)
    for t in trace.threads.values():
        best = t.tools.best
        if best is None or best.length < th.ping_pong:
            continue
        if not cycles.covers(kept, t.agent, {p[0] for p in best.pattern}):  # else said above
            yield from _tool_ping_pong(trace, t, best, th)


def _tool_ping_pong(
    trace: Trace, t: Thread, best: BestRun | None, th: Thresholds
) -> Iterator[Finding]:
    if best is None or best.length < th.ping_pong:
        return
    (tool_a, args_a), (tool_b, args_b) = best.pattern
    pattern = f"{tool_a}({short(args_a)}) ⇄ {tool_b}({short(args_b)}) ×{best.length}"
    if tool_a == tool_b:  # one tool, two argument sets taking turns: a repeat, not an alternation
        what = f"called tool {tool_a} {best.length} times in a row, two argument sets in turn"
        fix = (
            f"set limits.max_identical_tool_calls: 2, and say in {_agent(t.agent)}'s "
            f"instructions when to stop calling {tool_a} (if it polls a status: wait between "
            f"calls and cap the polls)"
        )
    else:
        what = f"alternated tools {tool_a} and {tool_b} {best.length} times"
        what += " with the same arguments" if args_a or args_b else ""
        fix = (
            f"declare {tool_a} and {tool_b} deterministic so repeats come from the cache, set "
            f"limits.max_identical_tool_calls: 2, and say in {_agent(t.agent)}'s instructions "
            f"when to stop"
        )
    yield Finding(
        "ping_pong",
        severity(best.length, th.ping_pong),
        trace.trace,
        t.agent,
        t.task,
        f"{_agent(t.agent)} {what}",
        pattern,
        best.first,
        best.last,
        best.tokens,
        best.cost if t.priced else None,
        fix,
        first_ts=best.first_ts,
        last_ts=best.last_ts,
    )


def could_monologue(s: Signals, th: Thresholds) -> bool:
    """A model output seen twice (or a threshold so low that once is enough)."""
    return th.monologue < 2 or s.repeated_output


def monologue(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """An agent giving the same output `monologue` times running."""
    for t in trace.threads.values():
        best = t.outputs.best
        if best is None or best.length < th.monologue:
            continue
        yield Finding(
            "monologue",
            severity(best.length, th.monologue),
            trace.trace,
            t.agent,
            t.task,
            f"{_agent(t.agent)} gave the same output {best.length} times running"
            f"{_but(t.output_varied, 'outputs')} (threshold {th.monologue})",
            f"output {short(str(best.pattern[0]))} ×{best.length}",
            best.first,
            best.last,
            best.tokens,
            best.cost if t.priced else None,
            f"its answer does not change what it is asked next: set max_turns: "
            f"{th.monologue - 1} on agent "
            f"{t.agent or '<name>'}, and make the answer end {_task(t.task)} (an output_schema "
            f"it satisfies)",
            first_ts=best.first_ts,
            last_ts=best.last_ts,
        )


def could_grow(s: Signals, th: Thresholds) -> bool:
    """A thread whose input tokens rise steadily."""
    need = max(2, th.growth_turns)
    for t in s.threads.values():
        if len(t.inputs) >= need and steady_rise(t.inputs, th) is not None:
            return True
    return False


def token_growth(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """Input tokens per call rising steadily across one agent's turns."""
    for t in trace.threads.values():
        fit = steady_rise(list(t.inputs), th)
        if fit is None:
            continue
        slope, intercept = fit
        window = th.context_window or context_window(t.model)
        at = max(len(t.inputs), int((window - intercept) / slope) + 1)
        near = t.inputs[-1] >= window // 2 or at <= 2 * len(t.inputs)
        yield Finding(
            "token_growth",
            "error" if near else "warning",
            trace.trace,
            t.agent,
            t.task,
            f"{_agent(t.agent)}'s input grew by {slope:,.0f} tokens a turn, from "
            f"{t.inputs[0]:,} to "
            f"{t.inputs[-1]:,} over {len(t.inputs)} calls; it would reach "
            f"{t.model or 'the model'}'s "
            f"{window:,}-token context at turn {at}",
            f"+{slope:,.0f} tokens/turn",
            t.first,
            t.last,
            t.tokens,
            _cost(t),
            "set limits.max_history_tokens so old tool results are dropped, summarise long tool "
            "outputs "
            f"before they go back to the model, and cap {_agent(t.agent)} with max_turns",
            first_ts=t.first_ts,
            last_ts=t.last_ts,
        )


def steady_rise(ys: list[int], th: Thresholds) -> tuple[float, float] | None:
    """The least-squares slope and intercept when most steps rise and the slope is big enough."""
    n = len(ys)
    if n < max(2, th.growth_turns) or max(ys) - min(ys) < max(1, th.growth_tokens):
        return None  # the slope is never more than the range (max - min) of the values
    rises = sum(1 for a, b in itertools.pairwise(ys) if b > a)
    if rises < 0.8 * (n - 1):
        return None
    mean_x, mean_y = (n - 1) / 2, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(ys)) / sxx
    if slope < max(1, th.growth_tokens):
        return None
    return slope, mean_y - slope * mean_x - slope  # the intercept at turn 1, counting from 1
