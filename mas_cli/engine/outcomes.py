"""Typed outcomes: how a turn, a task and a run end. A limit stop is an outcome, not an error."""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct

from mas_cli.events.models import RunStatus, TaskStatus
from mas_cli.words import figure, plural

Scope = Literal["run", "agent", "task", "batch"]  # batch: a budget many runs share
LimitKind = Literal[
    "max_turns",
    "max_llm_calls",
    "max_tool_calls",
    "max_identical_tool_calls",
    "max_tokens",
    "max_cost_usd",
    "no_progress",
    "run_timeout_s",
    "task_timeout_s",
    "max_delegations",
    "max_delegation_depth",
    "max_identical_delegations",
    "delegation_ping_pong",
]


class Kind(Struct, frozen=True):
    """What hitting a limit of one kind does, and how its message reads."""

    run_wide: bool = False
    """At run scope, it stops the whole run, not just the task where it happened."""
    cuts_short: bool = False
    """It stops the run at once, cancelling what runs; after any other run-wide hit the run
    winds down: calls already let through (they fit the limits) finish, no new one starts."""
    breaker: bool = False
    """A crew-wide circuit breaker."""
    counted: bool = False
    """A count reached (`max_turns 5 reached`), not a figure passed."""


KINDS: dict[LimitKind, Kind] = {
    "max_turns": Kind(counted=True),
    "max_llm_calls": Kind(run_wide=True, breaker=True, counted=True),
    "max_tool_calls": Kind(run_wide=True, breaker=True, counted=True),
    "max_identical_tool_calls": Kind(counted=True),
    "max_tokens": Kind(run_wide=True),
    "max_cost_usd": Kind(run_wide=True),
    "no_progress": Kind(),
    "run_timeout_s": Kind(run_wide=True, cuts_short=True),
    "task_timeout_s": Kind(),
    "max_delegations": Kind(run_wide=True, counted=True),
    "max_delegation_depth": Kind(run_wide=True, counted=True),
    "max_identical_delegations": Kind(run_wide=True, counted=True),
    "delegation_ping_pong": Kind(run_wide=True),
}


class LimitHit(Struct, frozen=True):
    """A guard's verdict: which limit, the value that passed it, its threshold, and where."""

    kind: LimitKind
    value: float
    threshold: float
    scope: Scope
    agent: str | None = None
    task: str | None = None
    chain: tuple[str, ...] = ()
    passed: bool = False  # a budget already passed (a call spent more than it was bounded at)

    @property
    def stops_run(self) -> bool:
        """Whether this hit stops the whole run."""
        return self.scope in ("run", "batch") and KINDS[self.kind].run_wide

    @property
    def message(self) -> str:
        """stopped: max_turns 5 reached by agent scorer on task score."""
        where = f" by agent {self.agent}" if self.agent else ""
        where += f" on task {self.task}" if self.task else ""
        chain = f" (delegations: {' → '.join(self.chain)})" if self.chain else ""
        return f"stopped: {self._what()}{where}{chain}"

    def _what(self) -> str:
        owner = f" for agent {self.agent}" if self.scope == "agent" else ""
        owner = " for the batch" if self.scope == "batch" else owner
        if self.kind == "no_progress":
            return (
                f"no progress: the same answer or tool result {plural(self.value, 'turn')} running"
            )
        if self.kind == "delegation_ping_pong":
            a, b = self.chain[-2:]
            return f"delegation ping-pong between {a} and {b}"
        if KINDS[self.kind].counted:
            breaker = (
                " (circuit breaker)" if self.scope == "run" and KINDS[self.kind].breaker else ""
            )
            return f"{self.kind} {figure(self.threshold)}{owner} reached{breaker}"
        if self.kind.endswith("_timeout_s"):
            return f"{self.kind} {figure(self.threshold)} passed after {self.value:.1f}s"
        verb = "was passed" if self.passed else "would be passed"
        return f"{self.kind} {figure(self.threshold)}{owner} {verb} ({figure(self.value)})"


class FinalOutput(Struct, frozen=True):
    """The model answered without tool calls, and the answer is valid."""

    text: str
    data: Any = None
    stripped: str | None = None  # what was stripped around a JSON answer, for the log


class RunAgain(Struct, frozen=True):
    """Another turn is needed: tool results or a validation error went back to the model."""

    reason: str


class Stopped(Struct, frozen=True):
    """A limit stopped the task. `partial` is the last text the model wrote."""

    hit: LimitHit
    partial: str | None = None

    @property
    def reason(self) -> str:
        """What stopped it, as the user reads it."""
        return self.hit.message


class Failed(Struct, frozen=True):
    """The task cannot go on for a reason that is no limit: a model call that failed, an answer
    that never matched its schema, a run stopped from outside. `partial` is the last text."""

    reason: str
    partial: str | None = None


Ended = Stopped | Failed
TurnOutcome = FinalOutput | RunAgain | Ended


class TaskOutcome(Struct, frozen=True):
    """How one task ended, as output.json records it."""

    task: str
    agent: str | None
    status: TaskStatus
    output: str | None = None
    data: Any = None
    reason: str | None = None
    hit: LimitHit | None = None
    turns: int = 0


class RunResult(Struct, frozen=True):
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
