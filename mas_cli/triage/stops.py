"""The detectors of stops and overload: limit hits, runs that never finished, invocation rates.

limit_hit           a guard stopped something
unfinished          a run (trace) that started and never finished
rate                an agent was invoked more times in a minute than the threshold
"""

from __future__ import annotations

from collections.abc import Iterator

from mas_cli.records import replace
from mas_cli.triage import advice
from mas_cli.triage.findings import Finding, severity
from mas_cli.triage.sums import MinuteKey, Rate, Signals
from mas_cli.triage.thresholds import Thresholds
from mas_cli.triage.traces import Trace

# Where each limit a mas guard writes is set (engine/guards.py and the crew file's limits:);
# `agents.<name>.` ones may also be set per agent.
SETTINGS = {
    "max_turns": "agents.{agent}.max_turns (or limits.max_turns)",
    "max_llm_calls": "limits.max_llm_calls (or agents.{agent}.max_llm_calls)",
    "max_tool_calls": "limits.max_tool_calls",
    "max_identical_tool_calls": "limits.max_identical_tool_calls",
    "max_tokens": "limits.max_tokens (or agents.{agent}.max_tokens)",
    "max_cost_usd": "limits.max_cost_usd (or agents.{agent}.max_cost_usd)",
    "run_timeout_s": "limits.run_timeout_s",
    "task_timeout_s": "limits.task_timeout_s",
    "max_delegations": "limits.max_delegations",
    "max_delegation_depth": "limits.max_delegation_depth",
    "max_identical_delegations": "limits.max_identical_delegations",
}
FIXED = {
    "delegation_ping_pong": "a delegation that went back to the agent that made it, and back "
    "again, is always stopped (no setting raises it): let the delegate finish its work and "
    "answer, without delegating back",
    "no_progress": "the same answer, or the same calls with the same results, turns running is "
    "always stopped (no setting raises it): let the task end on that answer (an output_schema "
    "it can meet), or give the agent what it lacks",
}


def could_hit_limit(s: Signals, _th: Thresholds) -> bool:
    """A limit hit was logged."""
    return s.limits > 0


def could_be_unfinished(s: Signals, _th: Thresholds) -> bool:
    """The trace has not ended."""
    return not s.ended


def limit_hits(trace: Trace, _th: Thresholds) -> Iterator[Finding]:
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
            _limit_fix(kind, hit.agent),
            hit.span,
            hit.span,
            hit.ts,
            hit.ts,
        )


def _limit_fix(kind: str, agent: str, *, others: bool = True) -> str:
    if kind in FIXED:
        return f"the guard stopped it at {kind}: {FIXED[kind]}"
    setting = SETTINGS.get(kind, "that limit").format(agent=agent or "<name>")
    if others:
        return (
            f"the guard stopped it at {kind}; fix the loop that led there (see the other "
            f"findings for this trace) before raising {setting}"
        )
    return (
        f"the guard stopped it at {kind}, and nothing else in this trace was found to loop: "
        f"check whether the work needs more before raising {setting}"
    )


def with_context(found: list[Finding]) -> list[Finding]:
    """One trace's findings; a limit hit points to the others only when there are others."""
    if any(f.detector != "limit_hit" for f in found):
        return found
    return [replace(f, fix=_limit_fix(f.pattern, f.agent, others=False)) for f in found]


def unfinished(trace: Trace, _th: Thresholds) -> Iterator[Finding]:
    """A trace that started and never finished."""
    if trace.started and not trace.ended:
        where = f"agent {trace.last_agent or '?'}"
        where += f" on task {trace.last_task}" if trace.last_task else ""
        yield Finding(
            "unfinished",
            "warning",
            trace.trace,
            trace.last_agent,
            trace.last_task,
            f"run {trace.run or trace.trace} never finished: killed, crashed, or still running; "
            f"the last event is from {where}",
            "no end",
            trace.first,
            trace.last,
            trace.tokens,
            trace.cost or None,
            "if it was killed, set limits.run_timeout_s so the run ends itself with a status; if "
            "it is still running, check it again later",
            first_ts=trace.first_ts,
            last_ts=trace.last_ts,
        )


def rates(
    starts: dict[MinuteKey, Rate],
    calls: dict[MinuteKey, Rate],
    th: Thresholds,
    writers: dict[tuple[str, str], str] | None = None,
) -> Iterator[Finding]:
    """Agents invoked more than the threshold in one minute (agent starts, else model calls);
    the fix in the terms of what ran the agent, when `writers` says (see `advice.py`)."""
    most = th.invocations_per_minute
    started = {(crew, agent) for crew, agent, _ in starts}
    chosen = [(k, r) for k, r in starts.items() if r.count > most]
    chosen += [(k, r) for k, r in calls.items() if r.count > most and k[:2] not in started]
    for (crew, agent, minute), rate in sorted(chosen, key=lambda item: item[1].first):
        name = agent or "?"
        found = Finding(
            "rate",
            severity(rate.count, most),
            "",
            agent,
            "",
            f"agent {name} was invoked {rate.count} times in the minute from "
            f"{minute.replace('T', ' ')} (threshold {most})",
            f"{rate.count}/min",
            rate.first,
            rate.last,
            None,  # the per-minute counts keep no spend: not measured, not zero
            None,
            f"find what keeps re-invoking agent {name}; cap it with limits.max_llm_calls or "
            f"agents.{name}.max_llm_calls, and pace it with rate_limits",
            crew=crew,
        )
        writer = (writers or {}).get((crew, agent), "")
        yield from advice.speak(writer, [found], th) if writer else (found,)
