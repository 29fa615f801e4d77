"""Advice in the framework's own terms: a CrewAI run gets CrewAI's knobs, not a crew file's.

A detector's fix names mas knobs (`agents.X.max_turns`, `tools.X.kind`). When a trace says what
wrote it (a framework, SWE-agent, OpenHands or a plain chat: `frameworks.py` in the readers),
`speak` rewrites each finding's fix from the generic knobs that detector calls for, each worded
as that writer spells it (`knobs.py`), after a lead that says what to fix first where the knob
alone would not (a failure's cause, a limit hit's loop). A detector or a writer not in the
tables keeps the fix it had.
"""

from __future__ import annotations

import re

from mas_cli.records import replace
from mas_cli.triage.findings import Finding
from mas_cli.triage.knobs import KNOBS, PREFIX
from mas_cli.triage.thresholds import Thresholds

# Each detector's fix, as generic knobs (ping_pong between tools uses "tool_ping_pong").
FIXES: dict[str, tuple[str, ...]] = {
    "turns": ("max_turns", "clear_end"),
    "repeated_calls": ("tool_cache", "max_turns"),
    "ping_pong": ("final_say", "max_turns"),
    "cycle": ("clear_end", "max_turns"),
    "tool_ping_pong": ("tool_cache", "max_turns"),
    "monologue": ("clear_end", "max_turns"),
    "token_growth": ("history", "max_turns"),
    "unfinished": ("run_timeout",),
    "rate": ("rate",),
    "tool_failures": ("tool_errors",),
    "model_failures": ("model_retries",),
    "limit_hit": ("limit",),
    "lone_limit_hit": ("limit",),
}
# What to do before turning the knobs, where the knob alone would hide the cause.
LEADS = {
    "tool_failures": "fix what makes {tool} fail ({error})",
    "model_failures": "fix the cause ({error}: the key, the model name, the provider's limits)",
    "limit_hit": "it stopped at {limit}; fix the loop the other findings for this trace show "
    "before raising it",
    "lone_limit_hit": "it stopped at {limit}, and nothing else in this trace was found to "
    "loop: check whether the work needs more before raising it",
}
_TOOLS = re.compile(r"([^\s()⇄]+)\(")
_AGENTS = re.compile(r"^(\S+) ⇄ (\S+) ×")
_BARE_TOOL = re.compile(r"^([^\s()⇄]+) ×")  # a repeated call whose log kept no arguments
_FAILED = re.compile(r"^(tool|model) (.*) ✗ ×\d+$")


def speak(framework: str, findings: list[Finding], th: Thresholds) -> list[Finding]:
    """The findings, each fix worded in the framework's knobs where the tables have them.

    The findings of one trace, or the rate findings of one writer: a limit hit's lead depends
    on whether other findings came with it."""
    if framework not in PREFIX:
        return findings
    alone = all(f.detector == "limit_hit" for f in findings)
    return [_reworded(framework, f, th, alone=alone) for f in findings]


def _reworded(framework: str, f: Finding, th: Thresholds, *, alone: bool = False) -> Finding:
    failed = _FAILED.match(f.pattern) if f.detector == "repeated_failures" else None
    bare = _BARE_TOOL.findall(f.pattern) if f.detector == "repeated_calls" else []
    names = [failed.group(2)] if failed else list(dict.fromkeys(_TOOLS.findall(f.pattern) or bare))
    names = names or ["?"]
    detector = _kind(f, names != ["?"], failed, alone=alone)
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
        "limit": f.pattern,
        "error": f.message.partition("the same way: ")[2][:80],
    }
    said = [KNOBS[knob][framework].format(**fields) for knob in knobs]
    lead = LEADS.get(detector)
    if lead:
        said.insert(0, lead.format(**fields))
    return replace(f, fix=PREFIX[framework] + "; ".join(said))


def _kind(f: Finding, tools: bool, failed: re.Match[str] | None, *, alone: bool) -> str:
    """The detector's key in FIXES: ping-pong and failures split by what took turns or failed."""
    if f.detector == "ping_pong" and tools:
        return "tool_ping_pong"
    if failed:
        return f"{failed.group(1)}_failures"
    if f.detector == "limit_hit" and alone:
        return "lone_limit_hit"
    return f.detector
