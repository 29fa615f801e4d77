"""One registry entry per provider: the crew file's names, the key variable, the endpoint, the
price-data id and the factory, held together."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import get_args

import pytest

from mas_cli.llm.keys import base_url, key_env
from mas_cli.llm.registry import REPLAY, create_provider
from mas_cli.llm.types import ProviderOptions
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.providers import PROVIDERS, Provider


def test_the_crew_files_provider_names_are_the_registry() -> None:
    assert set(get_args(Provider)) == set(PROVIDERS)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_provider_that_reaches_an_endpoint_has_a_key_variable(name: str) -> None:
    """Without one, a model with no base_url would send a placeholder key and fail mid-run with
    a 401, instead of `KEY is not set` before the run."""
    info = PROVIDERS[name]  # type: ignore[index]
    if info.official_url is not None:
        assert info.key_env, f"{name} calls {info.official_url} but names no key variable"
    model = ModelSpec(provider=name, model="m")
    assert (key_env(model), base_url(model)) == (info.key_env, info.official_url)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_factory_has_the_one_signature_and_closes(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in filter(None, (i.key_env for i in PROVIDERS.values())):
        monkeypatch.setenv(variable, "sk-test")
    provider = create_provider(ModelSpec(provider=name, model="m"), ProviderOptions())
    asyncio.run(provider.aclose())
    assert provider.name


def test_replay_is_made_by_the_same_factory_signature(tmp_path: Path) -> None:
    recording = tmp_path / "llm.jsonl"
    recording.write_text("", encoding="utf-8")
    options = ProviderOptions(recording=recording)
    provider = create_provider(ModelSpec(provider="openai", model="m"), options, REPLAY)
    assert provider.name == "replay"
    asyncio.run(provider.aclose())


@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_the_sdk_providers_share_one_shell(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two provider modules were near-copies (client, attempt, failures, closing): each
    now says only what differs, and the shell is llm/sdk_shell.py's."""
    from mas_cli.llm.sdk_shell import SdkProvider

    monkeypatch.setenv(PROVIDERS[name].key_env or "", "sk-test")  # type: ignore[index]
    provider = create_provider(ModelSpec(provider=name, model="m"), ProviderOptions())
    assert isinstance(provider, SdkProvider)
    own = set(vars(type(provider)))
    assert own.isdisjoint({"complete", "_send", "aclose", "_sdk_failure"})
    assert {"_body", "_parse", "_create"} <= own
    asyncio.run(provider.aclose())
