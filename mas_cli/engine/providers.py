"""A run's providers, before it starts and after it ends: the model each agent names, one
client per endpoint (keys checked before any client is made), or a recording to replay; every
attempt recorded to the run's llm.jsonl; every client closed when the run ends."""

from __future__ import annotations

from pathlib import Path

from msgspec import Struct

from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.errors import UsageError
from mas_cli.events.liveness import holder
from mas_cli.events.models import RunStarted
from mas_cli.events.store import resolve_log
from mas_cli.llm.keys import MissingKey, missing_key
from mas_cli.llm.recording import LLM_LOG, LlmLog, Recording
from mas_cli.llm.registry import REPLAY, create_provider, provider_key
from mas_cli.llm.types import Provider, ProviderOptions
from mas_cli.spec.loader import Crew
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.models import CrewSpec


def build_models(spec: CrewSpec, *, offline: bool) -> dict[str, ModelSpec]:
    """Each model reference agents use -> its spec; offline swaps the provider, keeps the name."""
    models = {}
    for agent in spec.all_agents().values():
        model = spec.model_for(agent.model)
        assert model is not None, "the loader checks every model reference"
        if offline:
            model = model.model_copy(
                update={"provider": "offline", "base_url": None, "api_key_env": None}
            )
        models[agent.model] = model
    return models


def exact_counts_needed(
    spec: CrewSpec, models: dict[str, ModelSpec], *, gated: bool
) -> list[ModelSpec]:
    """The models whose calls need exact token counts from the first: under a gate (a fleet's
    rate windows, which are never settled), a tokens-per-minute bucket plans every call in
    them. A run of its own plans at a bound while it fits (model_calls.planned_tokens), and
    builds a tokenizer only if a decision needs one: its build holds the event loop for a
    quarter of a second. The offline model needs none (cost.approx)."""
    limiter = RateLimiter.for_crew(spec)
    if not gated or limiter is None:
        return []
    return [model for model in models.values() if limiter.counts_tokens(model)]


def build_providers(spec: CrewSpec, models: dict[str, ModelSpec]) -> dict[str, Provider]:
    """One provider per endpoint, created (and its SDK imported) only if some agent uses it."""
    scripts = {name: a.script for name, a in spec.all_agents().items() if a.script is not None}
    options = ProviderOptions(scripts=scripts)
    providers: dict[str, Provider] = {}
    for model in models.values():
        key = provider_key(model)
        if key not in providers:
            providers[key] = create_provider(model, options)
    return providers


class ReplaySource(Struct, frozen=True):
    """A recorded run to replay: its llm.jsonl, its id, and whether it ran offline."""

    path: Path
    run_id: str
    offline: bool


def replay_source(home: Path, ref: str, crew: str | None = None) -> ReplaySource:
    """The recording of the run a user named (an id, a unique prefix, or a path).

    Raises:
        UsageError: no such run, it is still running, it has no recording, or it is a run of
            another crew.
    """
    from mas_cli.events.reader import LogReader  # a replay reads a log; a plain run reads none

    events = resolve_log(home, ref, last=False)
    running = holder(events.parent)
    if running is not None:  # its recording stops where the run has got to
        by = f" (process {running.pid})" if running.pid else ""
        raise UsageError(
            f"run {events.parent.name} is still running{by}: its recording is not complete",
            hint="replay it once it has ended",
        )
    path = events.parent / LLM_LOG
    if not path.is_file():
        raise UsageError(
            f"run {events.parent.name} has no {LLM_LOG} to replay",
            hint="only runs made by a mas that records model calls can be replayed",
        )
    started = next((e for e in LogReader(events) if isinstance(e, RunStarted)), None)
    if crew is not None and started is not None and started.crew != crew:
        raise UsageError(
            f"run {events.parent.name} is a run of crew {started.crew!r}, not {crew!r}: "
            "its recording cannot answer this crew's calls",
            hint=f"replay a run of {crew!r} (mas runs --crew {crew}), or run without --replay",
        )
    return ReplaySource(path, events.parent.name, bool(started and started.offline))


def open_providers(
    crew: Crew, models: dict[str, ModelSpec], source: ReplaySource | None
) -> dict[str, Provider]:
    """One provider per endpoint, or one replay provider serving them all.

    Raises:
        MissingKey: a model's key variable is unset (checked before any client is made).
    """
    if source is not None:
        first = next(iter(models.values()))
        served = create_provider(first, ProviderOptions(recording=source.path), REPLAY)
        return {provider_key(m): served for m in models.values()}
    missing = list(dict.fromkeys(e for e in map(missing_key, models.values()) if e))
    if missing:
        raise MissingKey(missing[0], str(crew.path), tuple(missing[1:]))
    return build_providers(crew.spec, models)


def recorded(providers: dict[str, Provider], log: LlmLog) -> dict[str, Provider]:
    """The providers, each attempt written to the run's llm.jsonl."""
    return {key: Recording(provider, log) for key, provider in providers.items()}


async def close(providers: dict[str, Provider]) -> None:
    """Close every client the run made."""
    for provider in providers.values():
        await provider.aclose()
