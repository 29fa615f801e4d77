"""What a model call costs: genai-prices' maintained data, plus the crew file's `prices:`.

Money is a Decimal here and in every report. Events store a cost as a JSON number written
from the Decimal and read back exactly: `as_float` and `money`, in events/spend.py with the
one spend tally, below the cost package.

An unknown model's cost is None, never 0: callers say so wherever they show it.
genai-prices is imported only when a price is first looked up (it takes a few hundred ms).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from mas_cli.spec.providers import PROVIDERS

if TYPE_CHECKING:  # a price is looked up without loading the crew models
    from genai_prices.types import ModelPrice

    from mas_cli.spec.model_spec import ModelSpec, PriceSpec
    from mas_cli.spec.models import CrewSpec

OFFLINE_MODEL = "offline"  # the offline model itself (not one standing in for a named model)

# `openrouter/anthropic/claude-3-5-sonnet`, `openai:gpt-4o`: the path, or a provider word.
_PREFIX = re.compile(
    r"^(?:openai|anthropic|azure|bedrock|vertex_ai|vertex|google|gemini|mistral|groq|ollama"
    r"|together|fireworks|deepseek|openrouter|litellm):",
)


class TokenUsage(Protocol):
    """Anything with normalized token counts: llm Usage, or an llm_call event."""

    @property
    def input_tokens(self) -> int:
        """All input tokens, cache reads and writes included."""
        ...

    @property
    def output_tokens(self) -> int:
        """All output tokens, reasoning included."""
        ...

    @property
    def cache_read_tokens(self) -> int:
        """The part of the input read from a prompt cache."""
        ...

    @property
    def cache_write_tokens(self) -> int:
        """The part of the input written to a prompt cache."""
        ...


@dataclass(frozen=True)
class Tokens:
    """A plain TokenUsage, for worst cases and estimates."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class Price:
    """One model's rates, and where they came from (`genai-prices` or `crew file`)."""

    model: str
    source: str
    rates: ModelPrice

    def cost(self, usage: TokenUsage) -> Decimal | None:
        """Dollars for this usage (tiers, cache reads and writes applied); None if inconsistent."""
        linear = self._linear
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        if linear is None or cached > usage.input_tokens:
            return self._calc(usage)
        base, plain, read, write, out = linear
        fresh = usage.input_tokens - cached
        return (
            base
            + plain * fresh
            + read * usage.cache_read_tokens
            + write * usage.cache_write_tokens
            + out * usage.output_tokens
        )

    @functools.cached_property
    def _linear(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal] | None:
        """Without tiers, cost is affine in the token counts: take its coefficients from
        genai-prices once (a call per token kind), then price every call with exact arithmetic."""
        from genai_prices.types import TieredPrices

        if any(isinstance(v, TieredPrices) for v in vars(self.rates).values()):
            return None
        million = 1_000_000
        probes = [
            Tokens(),
            Tokens(million),
            Tokens(million, 0, million),
            Tokens(million, 0, 0, million),
        ]
        costs = [self._calc(t) for t in [*probes, Tokens(0, million)]]
        if any(c is None for c in costs):
            return None
        base, plain, read, write, out = (c or Decimal(0) for c in costs)
        return (
            base,
            (plain - base) / million,
            (read - base) / million,
            (write - base) / million,
            (out - base) / million,
        )

    def _calc(self, usage: TokenUsage) -> Decimal | None:
        from genai_prices import Usage

        counts = Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )
        try:
            return self.rates.calc_price(counts)["total_price"]
        except (ValueError, ArithmeticError):
            return None  # e.g. more cached tokens than input tokens: not a usage we can price

    def describe(self) -> str:
        """`$0.15/input MTok, $0.6/output MTok, ...` (genai-prices' own wording)."""
        return str(self.rates)


@dataclass(frozen=True)
class PriceBook:
    """The prices of one crew's models, by the model's name, and the data's version."""

    prices: Mapping[str, Price | None]
    version: str

    def cost(self, model: str, usage: TokenUsage) -> Decimal | None:
        """What a call to `model` with this usage cost; None when the model has no price."""
        price = self.prices.get(model)
        return price.cost(usage) if price else None

    def worst_cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal | None:
        """The most a call could cost: every input token at its dearest rate, all the output."""
        plain = self.cost(model, Tokens(input_tokens, output_tokens))
        written = self.cost(model, Tokens(input_tokens, output_tokens, 0, input_tokens))
        if plain is None or written is None:
            return None
        return max(plain, written)

    def unknown(self) -> list[str]:
        """Models without a price, sorted."""
        return sorted(name for name, price in self.prices.items() if price is None)


def price_book(spec: CrewSpec) -> PriceBook:
    """Every model the crew names, priced: the crew's `prices:` first, then genai-prices."""
    models = _configured_models(spec)
    prices = {
        model.model: find_price(model, _override(spec, ref, model)) for ref, model in models.items()
    }
    return PriceBook(prices, data_version(overrides=len(spec.prices)))


def _configured_models(spec: CrewSpec) -> dict[str, ModelSpec]:
    refs = [*spec.models, *(a.model for a in spec.all_agents().values())]
    return {ref: model for ref in refs if (model := spec.model_for(ref)) is not None}


def _override(spec: CrewSpec, ref: str, model: ModelSpec) -> PriceSpec | None:
    return spec.prices.get(model.model) or spec.prices.get(ref)


def find_price(model: ModelSpec, override: PriceSpec | None = None) -> Price | None:
    """A model's price: the override, the offline model's zero, or genai-prices; else None."""
    if override is not None:
        return Price(model.model, "crew file", _rates(override))
    if model.provider == "offline" and model.model == OFFLINE_MODEL:
        return Price(model.model, "offline model", _free())
    # A base_url names the server (OpenRouter, a local Ollama): match it, not the SDK's provider.
    provider = None if model.base_url else PROVIDERS[model.provider].price_provider
    return _genai_price(model.model, provider, model.base_url)


@functools.cache
def _genai_price(name: str, provider: str | None, base_url: str | None) -> Price | None:
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    for ref in dict.fromkeys((name, strip_provider(name))):
        try:
            found, info = snapshot.find_provider_model(ref, None, provider, base_url)
        except LookupError:
            continue
        rates = info.get_prices(datetime.now(UTC))
        return Price(name, f"genai-prices {found.id}/{info.id}", rates)
    return None


@functools.cache
def _free() -> ModelPrice:
    from mas_cli.spec.model_spec import PriceSpec

    return _rates(PriceSpec(input=Decimal(0), output=Decimal(0)))


def _rates(spec: PriceSpec) -> ModelPrice:
    from genai_prices.types import ModelPrice

    return ModelPrice(
        input_mtok=spec.input,
        output_mtok=spec.output,
        cache_read_mtok=spec.input if spec.cached_input is None else spec.cached_input,
        cache_write_mtok=spec.input if spec.cache_write is None else spec.cache_write,
    )


def strip_provider(model: str) -> str:
    """`openrouter/openai/gpt-4o` and `openai:gpt-4o` -> `gpt-4o`; a bare name is unchanged."""
    last = model.strip().rsplit("/", 1)[-1]
    return _PREFIX.sub("", last.lower(), count=1)


def data_version(overrides: int = 0) -> str:
    """`genai-prices 0.2.3`, plus how many prices the crew file set."""
    base = _package_version()
    return f"{base} + {overrides} from the crew file" if overrides else base


@functools.cache  # reading package metadata takes ~2 ms; a batch asks once per run
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"genai-prices {version('genai-prices')}"
    except PackageNotFoundError:
        return "genai-prices (version unknown)"


def unpriced(model: str) -> str:
    """What an unknown price means, and how to fix it."""
    return (
        f"no price for model {model}: its cost is unknown and max_cost_usd cannot bound it "
        "(add it under prices: in the crew file; a local model costs {input: 0, output: 0})"
    )
