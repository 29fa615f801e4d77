"""The loop detectors: pure functions from a closed trace's tally (or the rates) to findings.

    turns               an agent took more turns on a task than the threshold
    rate                an agent was invoked more times in a minute than the threshold
    repeated_calls      the same tool with the same arguments, again and again in a trace
    repeated_failures   the same call failing the same way, again and again
    ping_pong           two agents (or two tool calls) taking turns for 6 steps or more
    monologue           the same model output several times running
    token_growth        input tokens rising turn after turn: the history is blowing up
    limit_hit           a guard stopped something
    unfinished          a run (trace) that started and never finished

Each finding says where, shows the pattern and where it first and last occurred, what was spent
inside it, and how to fix it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from mas_cli.triage import advice
from mas_cli.triage.contexts import context_window
from mas_cli.triage.findings import Finding, severity, short
from mas_cli.triage.runs import BestRun
from mas_cli.triage.tally import Rate, Repeat, Thread, Trace
from mas_cli.triage.thresholds import Thresholds


def trace_findings(trace: Trace, th: Thresholds) -> list[Finding]:
    """Every per-trace detector's findings for one closed trace, fixes in its framework's terms."""
    found = [
        *turns(trace, th),
        *repeated_calls(trace, th),
        *repeated_failures(trace, th),
        *ping_pong(trace, th),
        *monologue(trace, th),
        *token_growth(trace, th),
        *limit_hits(trace),
        *unfinished(trace),
    ]
    return advice.speak(trace.framework, found, th) if trace.framework else found


def _cost(thread: Thread) -> float | None:
    return thread.cost if thread.priced else None


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
                f"agent {t.agent or '?'} took {t.turns} turns on task {t.task or '?'} (threshold "
                f"{th.turns})",
                f"{t.turns} turns",
                t.first,
                t.last,
                t.tokens,
                _cost(t),
                f"set max_turns: {th.turns} on agent {t.agent or '?'} "
                f"(agents.{t.agent or '?'}.max_turns), and give "
                f"task {t.task or '?'} a clear end: an output_schema or an expected_output it "
                f"can meet",
                t.first_span,
                t.last_span,
                t.first_ts,
                t.last_ts,
            )


def rates(
    starts: dict[tuple[str, str], Rate], calls: dict[tuple[str, str], Rate], th: Thresholds
) -> Iterator[Finding]:
    """Agents invoked more than the threshold in one minute (agent starts, else model calls)."""
    most = th.invocations_per_minute
    started = {agent for agent, _ in starts}
    chosen = [(k, r) for k, r in starts.items() if r.count > most]
    chosen += [(k, r) for k, r in calls.items() if r.count > most and k[0] not in started]
    for (agent, minute), rate in sorted(chosen, key=lambda item: item[1].first):
        yield Finding(
            "rate",
            severity(rate.count, th.invocations_per_minute),
            "",
            agent,
            "",
            f"agent {agent or '?'} was invoked {rate.count} times in the minute from "
            f"{minute.replace('T', ' ')} "
            f"(threshold {th.invocations_per_minute})",
            f"{rate.count}/min",
            rate.first,
            rate.last,
            0,
            None,
            f"find what keeps re-invoking agent {agent or '?'}; cap it with "
            f"limits.max_llm_calls or "
            f"agents.{agent or '?'}.max_llm_calls, and pace it with rate_limits",
        )


def repeated_calls(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """The same tool with the same arguments, `repeated_calls` times or more in one trace."""
    for (tool, args), r in trace.calls.items():
        if r.count < th.repeated_calls:
            continue
        same = r.same_output and bool(r.output)
        what = " and got the same result every time: no new information" if same else ""
        yield Finding(
            "repeated_calls",
            "error" if same or r.count >= 2 * th.repeated_calls else "warning",
            trace.trace,
            r.agent,
            r.task,
            f"tool {tool} was called {r.count} times with the same arguments{what} (threshold "
            f"{th.repeated_calls})",
            f"{tool}(args {short(args)}) ×{r.count}",
            r.first,
            r.last,
            *_spend(r),
            f"declare tool {tool} deterministic (tools.{tool}.kind: deterministic) so repeats "
            f"are answered "
            f"from the cache, and set limits.max_identical_tool_calls: "
            f"{max(1, th.repeated_calls - 1)}",
            r.first_span,
            r.last_span,
            r.first_ts,
            r.last_ts,
        )


def _spend(r: Repeat) -> tuple[int, float | None]:
    return r.tokens_at_last - r.tokens_before, (r.cost_at_last - r.cost_before) or None


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


def ping_pong(trace: Trace, th: Thresholds) -> Iterator[Finding]:
    """Two agents handing work back and forth, or two tool calls taking turns, for long enough."""
    agents = (trace.handoffs if trace.had_handoffs else trace.agent_turns).best
    if agents and agents.length >= th.ping_pong:
        a, b = (str(s) for s in agents.pattern)
        yield Finding(
            "ping_pong",
            severity(agents.length, th.ping_pong),
            trace.trace,
            a,
            "",
            f"agents {a} and {b} took turns {agents.length} times (threshold {th.ping_pong})",
            f"{a} ⇄ {b} ×{agents.length}",
            agents.first,
            agents.last,
            agents.tokens,
            agents.cost or None,
            f"give one of {a} and {b} the final say (a task with an output_schema that ends the "
            f"exchange, and no "
            "handoff back), and cap the exchange with limits.max_llm_calls",
            first_ts=agents.first_ts,
            last_ts=agents.last_ts,
        )
    for t in trace.threads.values():
        yield from _tool_ping_pong(trace, t, t.tools.best, th)


def _tool_ping_pong(
    trace: Trace, t: Thread, best: BestRun | None, th: Thresholds
) -> Iterator[Finding]:
    if best is None or best.length < th.ping_pong:
        return
    (tool_a, args_a), (tool_b, args_b) = best.pattern
    pattern = f"{tool_a}({short(args_a)}) ⇄ {tool_b}({short(args_b)}) ×{best.length}"
    yield Finding(
        "ping_pong",
        severity(best.length, th.ping_pong),
        trace.trace,
        t.agent,
        t.task,
        f"agent {t.agent or '?'} alternated tools {tool_a} and {tool_b} with the same arguments "
        f"{best.length} times",
        pattern,
        best.first,
        best.last,
        best.tokens,
        best.cost if t.priced else None,
        f"declare {tool_a} and {tool_b} deterministic so repeats come from the cache, set "
        f"limits.max_identical_tool_calls: 2, and say in agent {t.agent or '?'}'s instructions "
        f"when to stop",
        first_ts=best.first_ts,
        last_ts=best.last_ts,
    )


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
            f"agent {t.agent or '?'} gave the same output {best.length} times running (threshold "
            f"{th.monologue})",
            f"output {short(str(best.pattern[0]))} ×{best.length}",
            best.first,
            best.last,
            best.tokens,
            best.cost if t.priced else None,
            f"its answer does not change what it is asked next: set max_turns: "
            f"{th.monologue - 1} on agent "
            f"{t.agent or '?'}, and make the answer end task {t.task or '?'} (an output_schema "
            f"it satisfies)",
            first_ts=best.first_ts,
            last_ts=best.last_ts,
        )


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
            f"agent {t.agent or '?'}'s input grew by {slope:,.0f} tokens a turn, from "
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
            f"before they go back to the model, and cap agent {t.agent or '?'} with max_turns",
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


def limit_hits(trace: Trace) -> Iterator[Finding]:
    """Each limit a guard hit."""
    for loc, hit in trace.limits:
        kind = hit.name or "limit"
        yield Finding(
            "limit_hit",
            "error",
            trace.trace,
            hit.agent,
            hit.task,
            hit.message or f"{kind} was hit",
            kind,
            loc,
            loc,
            trace.tokens,
            trace.cost or None,
            f"the guard stopped it at {kind}; fix the loop that led there (see the other "
            f"findings for this "
            f"trace) before raising {kind}",
            hit.span,
            hit.span,
            hit.ts,
            hit.ts,
        )


def unfinished(trace: Trace) -> Iterator[Finding]:
    """A trace that started and never finished."""
    if trace.started and not trace.ended:
        where = f"agent {trace.last_agent or '?'} on task {trace.last_task or '?'}"
        yield Finding(
            "unfinished",
            "warning",
            trace.trace,
            trace.last_agent,
            trace.last_task,
            f"run {trace.trace} never finished: killed, crashed, or still running; the last "
            f"event is from {where}",
            "no end",
            trace.first,
            trace.last,
            trace.tokens,
            trace.cost or None,
            "if it was killed, set limits.run_timeout_s so the run ends itself with a status; if "
            "it is still "
            "running, check it again later",
            first_ts=trace.first_ts,
            last_ts=trace.last_ts,
        )
