"""Prices: exact dollars for usages priced by hand, overrides, unknown models, no network.

Hand prices (genai-prices 0.2.x, per million tokens):
    gpt-4o-mini        input 0.15, cached input 0.075, output 0.60
    claude-sonnet-4-5  input 3, cache read 0.30, cache write 3.75, output 15;
                       from 200k input tokens: 6, 0.60, 7.50, 22.50
"""

from __future__ import annotations

import socket
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mas_cli.cost.prices import Tokens, data_version, price_book, strip_provider
from mas_cli.events.spend import as_float, money
from mas_cli.spec.models import CrewSpec

D = Decimal


def crew(models: dict[str, Any], prices: dict[str, Any] | None = None) -> CrewSpec:
    """A one-agent-per-model crew with these models and price overrides."""
    agents = {f"a{i}": {"role": "r", "model": name} for i, name in enumerate(models)}
    tasks = [{"id": f"t{i}", "agent": a, "prompt": "p"} for i, a in enumerate(agents)]
    return CrewSpec.model_validate(
        {"name": "c", "models": models, "prices": prices or {}, "agents": agents, "tasks": tasks}
    )


def anthropic_usage(raw: dict[str, int]) -> Tokens:
    """Anthropic's input_tokens excludes cache reads and writes; ours counts every input token."""
    reads, writes = raw["cache_read_input_tokens"], raw["cache_creation_input_tokens"]
    return Tokens(raw["input_tokens"] + reads + writes, raw["output_tokens"], reads, writes)


@pytest.fixture
def book() -> Any:
    return price_book(
        crew(
            {
                "mini": {"provider": "openai", "model": "gpt-4o-mini"},
                "sonnet": {"provider": "anthropic", "model": "claude-sonnet-4-5"},
            }
        )
    )


def test_openai_with_cached_input(book: Any) -> None:
    # 6,000 uncached x 0.15 + 4,000 cached x 0.075 + 500 out x 0.60, per million
    usage = Tokens(input_tokens=10_000, output_tokens=500, cache_read_tokens=4_000)
    assert book.cost("gpt-4o-mini", usage) == D("0.0015")


def test_anthropic_with_cache_reads_and_writes(book: Any) -> None:
    raw = {
        "input_tokens": 2_000,
        "cache_read_input_tokens": 30_000,
        "cache_creation_input_tokens": 5_000,
        "output_tokens": 1_000,
    }
    usage = anthropic_usage(raw)
    assert usage.input_tokens == 37_000
    # 2,000 x 3 + 30,000 x 0.30 + 5,000 x 3.75 + 1,000 x 15 = 48,750 per million
    assert book.cost("claude-sonnet-4-5", usage) == D("0.04875")


def test_tiered_prices_apply_past_the_threshold(book: Any) -> None:
    # 250,000 input crosses the 200k tier: 250,000 x 6 + 1,000 x 22.50 per million
    assert book.cost("claude-sonnet-4-5", Tokens(250_000, 1_000)) == D("1.5225")


def test_worst_case_prices_all_input_at_the_dearest_rate(book: Any) -> None:
    # Anthropic cache writes cost more than plain input: 1,000 x 3.75 + 1,024 x 15
    assert book.worst_cost("claude-sonnet-4-5", 1_000, 1_024) == D("0.01911")
    # OpenAI has no cache-write price: writes cost plain input, 1,000 x 0.15 + 1,024 x 0.6
    assert book.worst_cost("gpt-4o-mini", 1_000, 1_024) == D("0.0007644")


def test_a_price_override_wins_over_genai_prices() -> None:
    spec = crew(
        {"mini": {"provider": "openai", "model": "gpt-4o-mini"}},
        {"gpt-4o-mini": {"input": 1, "output": 2, "cached_input": 0.5, "cache_write": 1.25}},
    )
    book = price_book(spec)
    # 5,000 plain x 1 + 3,000 read x 0.5 + 2,000 written x 1.25 + 100 out x 2, per million
    usage = Tokens(10_000, 100, cache_read_tokens=3_000, cache_write_tokens=2_000)
    assert book.cost("gpt-4o-mini", usage) == D("0.0092")
    assert book.price("gpt-4o-mini").source == "crew file"  # type: ignore[union-attr]
    assert book.version.endswith(" + 1 from the crew file")


def test_override_by_models_key_and_defaults_for_cache_rates() -> None:
    spec = crew(
        {"local": {"provider": "openai", "model": "qwen3:8b", "base_url": "http://127.0.0.1:9/v1"}},
        {"local": {"input": 0.2, "output": 0.4}},
    )
    # absent cache rates are the input rate: 1,000 x 0.2 + 10 x 0.4 per million
    usage = Tokens(1_000, 10, cache_read_tokens=600, cache_write_tokens=100)
    assert price_book(spec).cost("qwen3:8b", usage) == D("0.000204")


def test_a_local_model_priced_at_zero_costs_zero_not_unknown() -> None:
    spec = crew(
        {"llama": {"provider": "openai", "model": "llama3.1:8b", "base_url": "http://x:11434/v1"}},
        {"llama3.1:8b": {"input": 0, "output": 0}},
    )
    book = price_book(spec)
    assert book.cost("llama3.1:8b", Tokens(12_345, 678)) == D(0)
    assert book.unknown() == []


def test_an_unknown_model_costs_none_never_zero() -> None:
    spec = crew(
        {"llama": {"provider": "openai", "model": "llama3.1:8b", "base_url": "http://x/v1"}}
    )
    book = price_book(spec)
    assert book.cost("llama3.1:8b", Tokens(1_000, 10)) is None
    assert book.cost("llama3.1:8b", Tokens()) is None
    assert book.worst_cost("llama3.1:8b", 1_000, 10) is None
    assert book.unknown() == ["llama3.1:8b"]


def test_a_known_name_behind_an_unknown_server_is_unknown() -> None:
    # gpt-4o-mini through a local proxy: the server decides the price, and we do not know it.
    spec = crew({"m": {"provider": "openai", "model": "gpt-4o-mini", "base_url": "http://x/v1"}})
    assert price_book(spec).unknown() == ["gpt-4o-mini"]


def test_the_offline_model_itself_is_free_and_stand_ins_are_priced() -> None:
    spec = crew({"o": {"provider": "offline", "model": "offline"}, "s": "offline:gpt-4o-mini"})
    book = price_book(spec)
    assert book.cost("offline", Tokens(1_000, 100)) == D(0)
    assert book.cost("gpt-4o-mini", Tokens(1_000_000, 0)) == D("0.15")


@pytest.mark.parametrize(
    ("name", "bare"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("openai:gpt-4o-mini", "gpt-4o-mini"),
        ("openrouter/openai/gpt-4o-mini", "gpt-4o-mini"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("llama3.1:8b", "llama3.1:8b"),
    ],
)
def test_provider_prefixes_are_stripped(name: str, bare: str) -> None:
    assert strip_provider(name) == bare


def test_prefixed_names_are_priced() -> None:
    book = price_book(crew({"m": {"provider": "openai", "model": "openai/gpt-4o-mini"}}))
    assert book.cost("openai/gpt-4o-mini", Tokens(1_000_000, 0)) == D("0.15")


def test_prices_need_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("prices tried to reach the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    book = price_book(crew({"m": {"provider": "anthropic", "model": "claude-3-5-haiku-latest"}}))
    assert book.cost("claude-3-5-haiku-latest", Tokens(1_000_000, 0)) == D("0.8")


def test_data_version_names_the_package() -> None:
    assert data_version().startswith("genai-prices 0.2.")


@given(
    tokens=st.integers(min_value=0, max_value=10_000_000),
    rate=st.decimals(min_value=0, max_value=100, places=3, allow_nan=False),
)
def test_a_cost_survives_the_event_as_the_same_decimal(tokens: int, rate: Decimal) -> None:
    cost = rate * tokens / 1_000_000
    assert money(as_float(cost)) == cost
    assert money(None) is None


@given(
    model=st.sampled_from(
        ["gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-6", "claude-haiku-4-5", "o3-mini"]
    ),
    fresh=st.integers(0, 300_000),
    read=st.integers(0, 100_000),
    write=st.integers(0, 100_000),
    output=st.integers(0, 50_000),
)
def test_arithmetic_prices_equal_genai_prices_exactly(
    model: str, fresh: int, read: int, write: int, output: int
) -> None:
    spec = CrewSpec.model_validate(
        {
            "name": "p",
            "models": {
                "m": {"provider": "anthropic" if "claude" in model else "openai", "model": model}
            },
            "agents": {"a": {"role": "A", "model": "m"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "p"}],
        }
    )
    price = price_book(spec).price(model)
    assert price is not None
    usage = Tokens(fresh + read + write, output, read, write)
    assert price.cost(usage) == price._calc(usage)  # the fast path is exact, tiers included


def test_two_models_of_one_name_keep_their_own_prices() -> None:
    """gpt-4o from OpenAI and gpt-4o behind a local proxy priced at zero: one name, two prices.
    Each call is priced by its own model (a name alone would price one like the other)."""
    from mas_cli.spec.model_spec import ModelSpec

    local = {"provider": "openai", "model": "gpt-4o", "base_url": "http://127.0.0.1:4000/v1"}
    spec = crew(
        {
            "direct": "openai:gpt-4o",
            "local": local,
            "fast": "openai:gpt-4o-mini",
            "same": "openai:gpt-4o-mini",
        },
        {
            "gpt-4o": {"input": 2, "output": 8},
            "local": {"input": 0, "output": 0},
            "fast": {"input": 1, "output": 1},
        },
    )
    book = price_book(spec)
    usage = Tokens(1_000_000, 1_000_000)
    assert book.cost(spec.models["direct"], usage) == D(10)  # the name's price
    assert book.cost(spec.models["local"], usage) == D(0)  # its models: key is nearer than its name
    # `fast` and `same` are one model at one endpoint: one price, the crew file's
    assert book.cost(spec.models["same"], usage) == D(2)
    assert book.worst_cost(ModelSpec(provider="openai", model="gpt-4o"), 1_000_000, 0) == D(2)
