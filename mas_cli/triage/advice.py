"""Advice in the framework's own terms: a CrewAI run gets CrewAI's knobs, not a crew file's.

A detector's fix names mas knobs (`agents.X.max_turns`, `tools.X.kind`). When a trace says which
framework ran it (`frameworks.py` in the readers), `speak` rewrites each finding's fix from the
generic knobs that detector calls for, each worded as that framework spells it. A detector or a
framework not in the tables keeps the fix it had.
"""

from __future__ import annotations

import re
from dataclasses import replace

from mas_cli.events.formats.frameworks import AUTOGEN, CREWAI, LANGGRAPH, OPENAI_AGENTS
from mas_cli.triage.findings import Finding
from mas_cli.triage.thresholds import Thresholds

NAMES = {CREWAI: "CrewAI", LANGGRAPH: "LangGraph", OPENAI_AGENTS: "Agents SDK", AUTOGEN: "AutoGen"}

# Generic knob -> how each framework spells it. Fields: {agent}, {other}, {tool} ("tool X" or
# "tools X and Y"), {names} (quoted, for a list), {turns}, {steps}.
KNOBS: dict[str, dict[str, str]] = {
    "max_turns": {
        CREWAI: "cap agent {agent} with max_iter={turns} on its Agent",
        LANGGRAPH: 'bound the run with config={{"recursion_limit": {steps}}} on invoke or stream '
        "(about two steps a turn: the model node, then the tools node)",
        OPENAI_AGENTS: "cap the run with Runner.run(agent, input, max_turns={turns})",
        AUTOGEN: "cap the team with max_turns={turns} (RoundRobinGroupChat(..., max_turns=...)) "
        "and agent {agent} with max_tool_iterations",
    },
    "clear_end": {
        CREWAI: "give agent {agent}'s Task an expected_output it can meet (or an output_pydantic)",
        LANGGRAPH: "end the loop in the graph's design: a conditional edge from agent {agent}'s "
        "model node to END once its answer is final (a response_format it can fill)",
        OPENAI_AGENTS: "give agent {agent} an output_type it can meet, or "
        'tool_use_behavior="stop_on_first_tool" when the tool\'s answer is the answer',
        AUTOGEN: "give the team a termination condition "
        "(TextMentionTermination, MaxMessageTermination)",
    },
    "tool_cache": {
        CREWAI: "let CrewAI answer repeats of {tool} from its cache: keep cache=True on the "
        "Agent and the Crew (the default) and give each tool a cache_function that returns True "
        "for these arguments",
        LANGGRAPH: "give the node that calls {tool} a cache_policy "
        "(add_node(..., cache_policy=CachePolicy()) with compile(cache=InMemoryCache())) so "
        "repeats are answered from the cache, or route to END once it has answered",
        OPENAI_AGENTS: "the SDK runs a function tool every time it is asked: cache inside "
        "{tool} (functools.lru_cache), or stop on it with "
        "tool_use_behavior=StopAtTools(stop_at_tool_names=[{names}])",
        AUTOGEN: "cache inside {tool}, and stop the team with a termination condition "
        "(MaxMessageTermination)",
    },
    "final_say": {
        CREWAI: "set allow_delegation=False on one of {agent} and {other}, and give the last "
        "Task an expected_output that ends the exchange",
        LANGGRAPH: "the edges between {agent} and {other} make a cycle: give one of them a "
        "conditional edge to END (or Command(goto=END)) once the work is done",
        OPENAI_AGENTS: "take the handoff back out: keep {agent} out of {other}'s handoffs (or "
        "the reverse), so one of them finishes",
        AUTOGEN: "end the group chat when {agent} or {other} gives the final answer "
        '(TextMentionTermination("TERMINATE"))',
    },
    "history": {
        CREWAI: "keep respect_context_window=True on agent {agent} (CrewAI then summarises the "
        "history near the window) and shorten what its tools return",
        LANGGRAPH: "trim the messages before each model call (trim_messages in the model node, "
        "or a pre_model_hook in create_react_agent)",
        OPENAI_AGENTS: "filter what goes back to the model with "
        "RunConfig(call_model_input_filter=...)",
        AUTOGEN: "give agent {agent} a bounded model_context "
        "(BufferedChatCompletionContext(buffer_size=...))",
    },
    "run_timeout": {
        CREWAI: "set max_execution_time on agent {agent}'s Agent so a stuck run ends itself",
        LANGGRAPH: "set step_timeout on the compiled graph so a stuck step ends the run",
        OPENAI_AGENTS: "wrap Runner.run in asyncio.wait_for(..., timeout=...) so a stuck run "
        "ends itself",
        AUTOGEN: "add TimeoutTermination to the team's termination condition",
    },
}

# Each detector's fix, as generic knobs (ping_pong between tools uses "tool_ping_pong").
FIXES: dict[str, tuple[str, ...]] = {
    "turns": ("max_turns", "clear_end"),
    "repeated_calls": ("tool_cache", "max_turns"),
    "ping_pong": ("final_say", "max_turns"),
    "tool_ping_pong": ("tool_cache", "max_turns"),
    "monologue": ("clear_end", "max_turns"),
    "token_growth": ("history", "max_turns"),
    "unfinished": ("run_timeout",),
}
_TOOLS = re.compile(r"([^\s()⇄]+)\(")
_AGENTS = re.compile(r"^(\S+) ⇄ (\S+) ×")


def speak(framework: str, findings: list[Finding], th: Thresholds) -> list[Finding]:
    """The findings, each fix worded in the framework's knobs where the tables have them."""
    if framework not in NAMES:
        return findings
    return [_reworded(framework, f, th) for f in findings]


def _reworded(framework: str, f: Finding, th: Thresholds) -> Finding:
    names = list(dict.fromkeys(_TOOLS.findall(f.pattern))) or ["?"]
    tools = names != ["?"]
    detector = "tool_ping_pong" if f.detector == "ping_pong" and tools else f.detector
    knobs = FIXES.get(detector)
    if knobs is None:
        return f
    agents = _AGENTS.match(f.pattern)
    fields = {
        "agent": agents.group(1) if agents else f.agent or "?",
        "other": agents.group(2) if agents else "?",
        "tool": ("tools " if len(names) > 1 else "tool ") + " and ".join(names),
        "names": ", ".join(f'"{name}"' for name in names),
        "turns": th.turns,
        "steps": 2 * th.turns + 1,
    }
    said = "; ".join(KNOBS[knob][framework].format(**fields) for knob in knobs)
    return replace(f, fix=f"in {NAMES[framework]}: {said}")
