"""Every provider mas can call, each described once: how its client is made, the variable that
holds its key, where it is, and what its prices are filed under.

Adding a provider is one entry here plus its module (a `create(model, options)` factory, see
`mas_cli.llm.registry`); a test holds the `Provider` names equal to these entries and fails on
a provider that calls a network endpoint without a key variable.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

Provider = Literal["openai", "anthropic", "offline"]


class ProviderInfo(Struct, frozen=True):
    """One provider's facts."""

    factory: str
    """`module:function` making its client, imported on first use: start-up loads no SDK."""
    key_env: str | None
    """The variable holding its key, read when a model has neither api_key_env nor base_url;
    None only for a provider that reaches no endpoint."""
    official_url: str | None
    """Where a model without base_url goes: always passed to the SDK, so that a *_BASE_URL
    variable in the environment never sends the provider's own key to another host."""
    price_provider: str | None
    """Its provider id in genai-prices' data, when it has one."""


PROVIDERS: dict[Provider, ProviderInfo] = {
    "openai": ProviderInfo(
        "mas_cli.llm.openai_provider:create",
        "OPENAI_API_KEY",
        "https://api.openai.com/v1",
        "openai",
    ),
    "anthropic": ProviderInfo(
        "mas_cli.llm.anthropic_provider:create",
        "ANTHROPIC_API_KEY",
        "https://api.anthropic.com",
        "anthropic",
    ),
    "offline": ProviderInfo("mas_cli.llm.offline:create", None, None, None),
}


def key_variables() -> set[str]:
    """Every provider's own key variable."""
    return {info.key_env for info in PROVIDERS.values() if info.key_env}
