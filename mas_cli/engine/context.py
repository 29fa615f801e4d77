"""Everything one run shares: ids, the event sink, the guard, state, providers, limits, tools."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

from mas_cli.engine.digests import digest
from mas_cli.engine.effects import Effects
from mas_cli.engine.gate import Gate
from mas_cli.engine.guards import Guard
from mas_cli.engine.outcomes import KINDS, LimitHit, TaskOutcome
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.engine.state import SharedState
from mas_cli.events.models import Event, LimitHitEvent, ToolStarted
from mas_cli.events.writer import EventWriter, event_line, new_span_id, now_iso
from mas_cli.llm.types import CallSite, Provider, ToolSchema
from mas_cli.redact import Secrets
from mas_cli.spec.loader import Crew
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.tools.base import IDEMPOTENCY_KEY, Tool
from mas_cli.tools.cache import CachedCall, ToolCache, call_cached
from mas_cli.tools.names import held, server_of, wire_name

if TYPE_CHECKING:
    from mas_cli.engine.origin import Resume

Listener = Callable[[Event], None]
Runner = Callable[["RunContext", CallSite, dict[str, Any]], Awaitable[CachedCall]]


class Offered(Struct, frozen=True):
    """A tool as an agent is offered it: what the model sees, and how a call of it runs."""

    schema: ToolSchema
    run: Runner
    counted: bool = True
    """Counts toward max_tool_calls; a delegation is guarded by the delegation limits instead."""
    tool: str | None = None
    """The crew's name for it when the model is offered another (`files.read_file`)."""
    server: str | None = None
    """The MCP server it comes from."""


class _Plain(Struct, frozen=True):
    """Runs a crew tool: through the deterministic-output cache, or as a side effect."""

    name: str

    async def __call__(
        self, ctx: RunContext, site: CallSite, arguments: dict[str, Any]
    ) -> CachedCall:
        tool = ctx.tools[self.name]
        if tool.spec.effective_kind == "side_effect":
            return await _side_effect(ctx, site, tool, arguments)
        return await call_cached(tool, arguments, ctx.cache)


async def _side_effect(
    ctx: RunContext, site: CallSite, tool: Tool, arguments: dict[str, Any]
) -> CachedCall:
    """A side_effect call: answered from an earlier run if it completed there; else announced
    (tool_started), then made with its idempotency key."""
    key = ctx.effects.key(site.task, tool.name, arguments)
    done = ctx.effects.completed.get(key)
    if done is not None:
        return CachedCall(done.result(), "off", idempotency_key=key, replayed=True)
    started = ToolStarted(tool=tool.name, args_digest=digest(arguments), idempotency_key=key)
    ctx.sink.emit(started, site)
    token = IDEMPOTENCY_KEY.set(key)
    try:
        return CachedCall(await tool.call(arguments), "off", idempotency_key=key)
    finally:
        IDEMPOTENCY_KEY.reset(token)


def _offered(tool: Tool) -> Offered:
    wire = wire_name(tool.name)
    schema = ToolSchema(wire, tool.description, tool.parameters)
    return Offered(schema, _Plain(tool.name), tool=tool.name, server=server_of(tool))


class Sink(Struct):
    """Writes events to the run log and tells listeners (the CLI's progress display)."""

    writer: EventWriter
    run_id: str
    trace_id: str
    listeners: list[Listener] = field(default_factory=list)
    secrets: Secrets = field(default_factory=Secrets)
    """Scrubbed from every event before it is written or announced: the log's one scrub."""

    def emit(self, event: Event, at: str | CallSite | None, span: str | None = None) -> str:
        """Fill in the envelope of an event built where it happened, write it and announce it;
        returns its span id (`span`, or a new one).

        `at` is the span the event hangs under, or the call site: its agent, task and turn are
        the event's, and its span the event's parent.
        """
        span = span or new_span_id()
        stamp: dict[str, Any] = {
            "ts": now_iso(),
            "run_id": self.run_id,
            "trace_id": self.trace_id,
            "span_id": span,
        }
        if isinstance(at, CallSite):
            stamp.update(parent_id=at.span, agent=at.agent, task=at.task, turn=at.turn)
        else:
            stamp["parent_id"] = at
        event, line = self._scrubbed(event.model_copy(update=stamp))
        self.writer.emit(event, line)
        for listener in self.listeners:
            listener(event)
        return span

    def _scrubbed(self, event: Event) -> tuple[Event, str]:
        """The event and its log line, secrets masked; the line made once in the common case:
        the text searched for secrets is the text written."""
        line = event_line(event)
        if not self.secrets.values or not self.secrets.found_in(line):
            return event, line
        event = type(event).model_validate(self.secrets.scrub_value(event.model_dump(mode="json")))
        return event, event_line(event)


class RunContext(Struct):
    """One run's shared parts. Lives on one event loop."""

    crew: Crew
    sink: Sink
    guard: Guard
    state: SharedState
    models: dict[str, ModelSpec]
    providers: dict[str, Provider]
    tools: dict[str, Tool]
    inputs: dict[str, Any]
    run_span: str
    outcomes: dict[str, TaskOutcome] = field(default_factory=dict)
    run_hit: LimitHit | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task -> delegation chain
    toolboxes: dict[str, dict[str, Offered]] = field(default_factory=dict)
    """Per agent, the tools it is offered by name: its own, then any the run adds (delegate)."""
    cache: ToolCache | None = None  # the deterministic-output cache; None runs every call
    limiter: RateLimiter | None = None
    effects: Effects = field(default_factory=lambda: Effects(""))
    """The side_effect calls' keys, and (on a resume) those already done."""
    resume: Resume | None = None
    """On a resume: the run continued, and the model calls it recorded."""
    gate: Gate | None = None
    """A budget and rate limits shared beyond this process (engine/gate.py); None: none."""

    def toolbox(self, agent: str) -> dict[str, Offered]:
        """The tools `agent` is offered: the crew's tools it names, and what `offer` added."""
        box = self.toolboxes.get(agent)
        if box is None:
            names = held(self.crew.spec.agent(agent).tools, self.tools)
            box = self.toolboxes[agent] = {wire_name(n): _offered(self.tools[n]) for n in names}
        return box

    def offer(self, agent: str, offered: Offered) -> None:
        """Add a tool to what `agent` is offered (after its own)."""
        self.toolbox(agent)[offered.schema.name] = offered

    def limit_hit(self, hit: LimitHit, parent: str | None) -> None:
        """Record a limit hit; a run-wide one stops the run (winding down, or at once)."""
        self.sink.emit(
            LimitHitEvent(
                agent=hit.agent,
                task=hit.task,
                kind=hit.kind,
                value=hit.value,
                threshold=hit.threshold,
                scope=hit.scope,
                message=hit.message,
                chain=list(hit.chain),
            ),
            parent,
        )
        if hit.stops_run and _worse(hit, self.run_hit):
            self.run_hit = hit
            if KINDS[hit.kind].cuts_short:
                self.stop.set()

    @property
    def winding_down(self) -> bool:
        """The run is stopping: no new call or task starts."""
        return self.stop.is_set() or self.run_hit is not None

    def prompt_values(self) -> Mapping[str, Any]:
        """What `{name}` placeholders can name: finished tasks' outputs, state values, inputs
        (the first of these that has the name)."""
        return _PromptValues(self.outcomes, self.state.values(), self.inputs)


class _PromptValues(Mapping[str, Any]):
    """A view, not a copy: a task's prompt names a few values, and a copy of every finished
    task's output made for each task that starts was quadratic in tasks."""

    def __init__(
        self, outcomes: dict[str, TaskOutcome], state: dict[str, Any], inputs: dict[str, Any]
    ) -> None:
        self._outcomes, self._state, self._inputs = outcomes, state, inputs

    def __getitem__(self, name: str) -> Any:
        outcome = self._outcomes.get(name)
        if outcome is not None:
            return outcome.data if outcome.data is not None else outcome.output
        return self._state[name] if name in self._state else self._inputs[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**self._inputs, **self._state, **self._outcomes})

    def __len__(self) -> int:
        return len({**self._inputs, **self._state, **self._outcomes})


def _worse(hit: LimitHit, first: LimitHit | None) -> bool:
    """Whether `hit` is what the run's stop should say: the first hit, unless a server billed
    past a budget after it (a call settled above its worst case), which the user must be told."""
    if first is None:
        return True
    if not hit.passed:
        return False
    return not first.passed or (hit.kind == first.kind and hit.value > first.value)
