"""Before a run: its inputs, the model each agent names, and one provider client per endpoint."""

from __future__ import annotations

from typing import Any

from mas_cli.errors import UsageError
from mas_cli.llm.registry import create_provider, provider_key
from mas_cli.llm.types import Provider, ProviderOptions
from mas_cli.spec.findings import did_you_mean
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.models import CrewSpec


def resolve_inputs(spec: CrewSpec, given: dict[str, Any]) -> dict[str, Any]:
    """Given values over defaults; unknown names and missing required inputs are usage errors."""
    unknown = sorted(set(given) - set(spec.inputs))
    if unknown:
        hint = did_you_mean(unknown[0], spec.inputs) or "this crew takes no inputs"
        raise UsageError(
            f"unknown input{'s' * (len(unknown) > 1)}: {', '.join(unknown)}", hint=hint
        )
    values = {name: given.get(name, item.default) for name, item in spec.inputs.items()}
    missing = [n for n, item in spec.inputs.items() if item.is_required() and values[n] is None]
    if missing:
        described = "; ".join(
            f"{n}: {spec.inputs[n].description or 'no description'}" for n in missing
        )
        example = " ".join(f"--input {n}=..." for n in missing)
        raise UsageError(
            f"missing required input{'s' * (len(missing) > 1)}: {described}", hint=f"give {example}"
        )
    return values


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
