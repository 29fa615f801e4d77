"""Providers made from the registry (mas_cli.spec.providers), their modules imported on first
use so that start-up loads no SDK."""

from __future__ import annotations

import importlib

from mas_cli.llm.types import Provider, ProviderOptions
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.providers import PROVIDERS

REPLAY = "mas_cli.llm.replay:create"
"""The factory of the provider that answers from a recorded run, whatever the model."""


def provider_key(model: ModelSpec) -> str:
    """Models that share a provider, endpoint and key share one client."""
    return f"{model.provider}|{model.base_url or ''}|{model.api_key_env or ''}"


def create_provider(
    model: ModelSpec, options: ProviderOptions, factory: str | None = None
) -> Provider:
    """A provider for this model (by its registry entry, unless `factory` names another), its
    module imported now if it was not yet."""
    module_name, name = (factory or PROVIDERS[model.provider].factory).split(":")
    module = importlib.import_module(module_name)
    provider: Provider = getattr(module, name)(model, options)
    return provider
