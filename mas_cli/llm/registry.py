"""Provider names to factories, imported on first use so that start-up loads no SDK."""

from __future__ import annotations

import importlib
from typing import Any

from mas_cli.errors import UsageError
from mas_cli.llm.types import Provider
from mas_cli.spec.model_spec import ModelSpec

# name -> "module:factory"; the factory takes the ModelSpec and returns a Provider.
FACTORIES: dict[str, str] = {
    "offline": "mas_cli.llm.offline:create",
    "openai": "mas_cli.llm.openai_provider:create",
    "anthropic": "mas_cli.llm.anthropic_provider:create",
}


def provider_key(model: ModelSpec) -> str:
    """Models that share a provider, endpoint and key share one client."""
    return f"{model.provider}|{model.base_url or ''}|{model.api_key_env or ''}"


def create_provider(model: ModelSpec, **options: Any) -> Provider:
    """A provider for this model spec, its module imported now if it was not yet."""
    target = FACTORIES.get(model.provider)
    if target is None:
        raise UsageError(
            f"provider '{model.provider}' is not available in this version of mas",
            hint="run offline: mas run CREW --offline",
        )
    module_name, factory = target.split(":")
    module = importlib.import_module(module_name)
    provider: Provider = getattr(module, factory)(model, **options)
    return provider
