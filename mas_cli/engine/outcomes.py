"""Typed outcomes: how a turn, a task and a run end. A limit stop is an outcome, not an error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mas_cli.events.models import RunStatus, TaskStatus
from mas_cli.words import figure, plural

Scope = Literal["run", "agent", "task"]

# Limits whose hit stops the whole run, not just the task where it happened.
RUN_WIDE = frozenset(
    {
        "max_llm_calls",
        "max_tool_calls",
        "max_tokens",
        "max_cost_usd",
        "run_timeout_s",
        "max_delegations",
        "max_delegation_depth",
        "max_identical_delegations",
        "delegation_ping_pong",
    }
)
# Of those, the ones that stop the run at once, cancelling what runs; after any other, the run
# winds down: calls already let through (they fit the limits) finish, and no new one starts.
CUTS_SHORT = frozenset({"run_timeout_s"})
BREAKERS = frozenset({"max_llm_calls", "max_tool_calls"})  # the crew-wide circuit breakers


@dataclass(frozen=True)
class LimitHit:
    """A guard's verdict: which limit, the value that passed it, its threshold, and where."""

    kind: str
    value: float
    threshold: float
    scope: Scope
    agent: str | None = None
    task: str | None = None
    chain: tuple[str, ...] = ()
    passed: bool = False  # a budget already passed (a call spent more than it was bounded at)

    @property
    def message(self) -> str:
        """stopped: max_turns 5 reached by agent scorer on task score."""
        where = f" by agent {self.agent}" if self.agent else ""
        where += f" on task {self.task}" if self.task else ""
        chain = f" (delegations: {' → '.join(self.chain)})" if self.chain else ""
        return f"stopped: {self._what()}{where}{chain}"

    def _what(self) -> str:
        owner = f" for agent {self.agent}" if self.scope == "agent" else ""
        if self.kind == "no_progress":
            return (
                f"no progress: the same answer or tool result {plural(self.value, 'turn')} running"
            )
        if self.kind == "delegation_ping_pong":
            a, b = self.chain[-2:]
            return f"delegation ping-pong between {a} and {b}"
        if self.kind in COUNTED:
            breaker = " (circuit breaker)" if self.scope == "run" and self.kind in BREAKERS else ""
            return f"{self.kind} {figure(self.threshold)}{owner} reached{breaker}"
        if self.kind.endswith("_timeout_s"):
            return f"{self.kind} {figure(self.threshold)} passed after {self.value:.1f}s"
        verb = "was passed" if self.passed else "would be passed"
        return f"{self.kind} {figure(self.threshold)}{owner} {verb} ({figure(self.value)})"


COUNTED = frozenset(
    {
        "max_turns",
        "max_llm_calls",
        "max_tool_calls",
        "max_identical_tool_calls",
        "max_delegations",
        "max_delegation_depth",
        "max_identical_delegations",
    }
)


@dataclass(frozen=True)
class FinalOutput:
    """The model answered without tool calls, and the answer is valid."""

    text: str
    data: Any = None
    stripped: str | None = None  # what was stripped around a JSON answer, for the log


@dataclass(frozen=True)
class RunAgain:
    """Another turn is needed: tool results or a validation error went back to the model."""

    reason: str


@dataclass(frozen=True)
class Stopped:
    """The task cannot go on: a limit (hit) or a failure (reason). `partial` is the last text."""

    reason: str
    hit: LimitHit | None = None
    partial: str | None = None


TurnOutcome = FinalOutput | RunAgain | Stopped


@dataclass(frozen=True)
class TaskOutcome:
    """How one task ended, as output.json records it."""

    task: str
    agent: str | None
    status: TaskStatus
    output: str | None = None
    data: Any = None
    reason: str | None = None
    hit: LimitHit | None = None
    turns: int = 0


@dataclass(frozen=True)
class RunResult:
    """How a run ended, and where its files are."""

    run_id: str
    status: RunStatus
    reason: str | None
    tasks: dict[str, TaskOutcome]
    run_dir: str
    hit: LimitHit | None = None
    output: dict[str, Any] | None = None
    """What output.json holds (or would, when the disk refused it)."""
    unwritten: tuple[str, ...] = ()
    """Why each run file that could not be written whole was not (a full disk, ...)."""
