"""What a model call costs: genai-prices' maintained data, plus the crew file's `prices:`.

Money is a Decimal here and in every report. Events store a cost as a JSON number written
from the Decimal and read back exactly: `as_float` and `money`, in events/spend.py with the
one spend tally, below the cost package.

An unknown model's cost is None, never 0: callers say so wherever they show it.
genai-prices is imported only when a price is first looked up (it takes a few hundred ms), and
not even then when this genai-prices version has answered the lookup before (pricecache.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Protocol

from msgspec import Struct

from mas_cli.cost import pricecache
from mas_cli.spec.providers import PROVIDERS

if TYPE_CHECKING:  # a price is looked up without loading the crew models
    from genai_prices.types import ModelInfo, ModelPrice

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


class Tokens(Struct, frozen=True):
    """A plain TokenUsage, for worst cases and estimates."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


Linear = tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
# (start, linear): the coefficients that apply when a call's input tokens are past `start`.
Pieces = tuple[tuple[int, Linear], ...]
MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    """One model's rates, and where they came from (`genai-prices ...` or `crew file`).

    genai-prices prices a call by tiers chosen by its input tokens, each tier a rate per token
    kind: cost is affine in the token counts between two tier starts. `pieces` holds, per tier,
    the cost of a request and of one fresh input, cache-read, cache-write and output token,
    so every call is priced with exact arithmetic. `rates` gives genai-prices' own rates,
    imported only for a usage the pieces cannot price (more cached tokens than input).
    """

    model: str
    source: str
    pieces: Pieces | None
    rates: Callable[[], ModelPrice] = field(compare=False, repr=False)

    def cost(self, usage: TokenUsage) -> Decimal | None:
        """Dollars for this usage (tiers, cache reads and writes applied); None if inconsistent."""
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        if self.pieces is None or cached > usage.input_tokens:
            return self._calc(usage)
        tier = (lin for start, lin in reversed(self.pieces) if usage.input_tokens > start)
        linear = next(tier, None)
        if linear is None:  # fewer than no input tokens: only genai-prices can say
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

    def _calc(self, usage: TokenUsage) -> Decimal | None:
        return calc(self.rates(), usage)


def calc(rates: ModelPrice, usage: TokenUsage) -> Decimal | None:
    """genai-prices' own price of this usage; None when it cannot price it."""
    from genai_prices import Usage

    counts = Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    try:
        return rates.calc_price(counts)["total_price"]
    except (ValueError, ArithmeticError):
        return None  # e.g. more cached tokens than input tokens: not a usage we can price


def pieces_from(rates: ModelPrice) -> Pieces | None:
    """The coefficients of each tier, taken from genai-prices' own arithmetic (a few calls per
    tier, at an input count inside it); None when a probe cannot be priced."""
    from genai_prices.types import TieredPrices

    tiered = [v for v in vars(rates).values() if isinstance(v, TieredPrices)]
    starts = sorted({tier.start for v in tiered for tier in v.tiers})
    bounds = [-1, *(s for s in starts if s >= 0)]
    pieces = []
    for start, end in zip(bounds, [*bounds[1:], None], strict=True):
        inside = start + 1 if start >= 0 else (0 if end == 0 else 1)
        linear = _probe(rates, inside)
        if linear is None:
            return None
        pieces.append((start, linear))
    return tuple(pieces)


def _probe(rates: ModelPrice, n: int) -> Linear | None:
    """The coefficients at n input tokens (n = 0: only a request and output can cost)."""
    base = calc(rates, Tokens())
    if n == 0:
        out = calc(rates, Tokens(0, 1))
        if base is None or out is None:
            return None
        return base, Decimal(0), Decimal(0), Decimal(0), out - base
    costs = [calc(rates, t) for t in (Tokens(n), Tokens(n, 0, n), Tokens(n, 0, 0, n), Tokens(n, n))]
    if base is None or any(c is None for c in costs):
        return None
    plain, read, write, both = (c or Decimal(0) for c in costs)
    return base, (plain - base) / n, (read - base) / n, (write - base) / n, (both - plain) / n


PriceKey = tuple[str, str, str | None]  # model name, provider, base_url: what sets a price


def price_key(model: ModelSpec) -> PriceKey:
    """What tells two models' prices apart: one name at two servers may cost two prices."""
    return model.model, model.provider, model.base_url


class PriceBook(Struct, frozen=True):
    """The prices of one crew's models, by name, provider and base_url, and the data's version."""

    prices: Mapping[PriceKey, Price | None]
    version: str

    def price(self, model: ModelSpec | str) -> Price | None:
        """A model's price, by its spec; by its name alone only when one model has that name."""
        if not isinstance(model, str):
            key = price_key(model)
            if key in self.prices or model.provider != "offline":
                return self.prices.get(key)
            # A configured model run offline (`--offline`, `--estimate`) keeps its name and is
            # priced as configured: under that name, the first priced model of it.
            priced = (p for k, p in self.prices.items() if k[0] == model.model and p is not None)
            return next(priced, None)
        named = [price for key, price in self.prices.items() if key[0] == model]
        if len(named) > 1:
            raise ValueError(f"{len(named)} models are named {model}: name one by its spec")
        return named[0] if named else None

    def cost(self, model: ModelSpec | str, usage: TokenUsage) -> Decimal | None:
        """What a call to `model` with this usage cost; None when the model has no price."""
        price = self.price(model)
        return price.cost(usage) if price else None

    def worst_cost(
        self, model: ModelSpec | str, input_tokens: int, output_tokens: int
    ) -> Decimal | None:
        """The most a call could cost: every input token at its dearest rate, all the output."""
        plain = self.cost(model, Tokens(input_tokens, output_tokens))
        written = self.cost(model, Tokens(input_tokens, output_tokens, 0, input_tokens))
        if plain is None or written is None:
            return None
        return max(plain, written)

    def unknown(self) -> list[str]:
        """Names of models without a price, sorted."""
        return sorted({key[0] for key, price in self.prices.items() if price is None})


def price_book(spec: CrewSpec) -> PriceBook:
    """Every model the crew names, priced: the crew's `prices:` first, then genai-prices.
    Models are told apart by name, provider and base_url (gpt-4o from OpenAI and gpt-4o behind
    a local proxy are two prices); refs naming one such model share its override."""
    models: dict[PriceKey, ModelSpec] = {}
    overrides: dict[PriceKey, PriceSpec | None] = {}
    for ref, model in _configured_models(spec).items():
        key = price_key(model)
        models.setdefault(key, model)
        overrides[key] = overrides.get(key) or _override(spec, ref, model)
    prices = {key: find_price(model, overrides[key]) for key, model in models.items()}
    return PriceBook(prices, data_version(overrides=len(spec.prices)))


def _configured_models(spec: CrewSpec) -> dict[str, ModelSpec]:
    refs = [*spec.models, *(a.model for a in spec.all_agents().values())]
    return {ref: model for ref in refs if (model := spec.model_for(ref)) is not None}


def _override(spec: CrewSpec, ref: str, model: ModelSpec) -> PriceSpec | None:
    """The price set under the model's models: key, else under its name (the nearer first)."""
    return spec.prices.get(ref) or spec.prices.get(model.model)


def find_price(model: ModelSpec, override: PriceSpec | None = None) -> Price | None:
    """A model's price: the override, the offline model's zero, or genai-prices; else None."""
    if override is not None:
        pieces = ((-1, _spec_linear(override)),)
        return Price(model.model, "crew file", pieces, partial(_rates, override))
    if model.provider == "offline" and model.model == OFFLINE_MODEL:
        zero = Decimal(0)
        return Price(model.model, "offline model", ((-1, (zero, zero, zero, zero, zero)),), _free)
    # A base_url names the server (OpenRouter, a local Ollama): match it, not the SDK's provider.
    provider = None if model.base_url else PROVIDERS[model.provider].price_provider
    return _genai_price(model.model, provider, model.base_url)


def _spec_linear(spec: PriceSpec) -> Linear:
    """A crew file's price per million tokens, per token (what genai-prices' arithmetic gives)."""
    read = spec.input if spec.cached_input is None else spec.cached_input
    write = spec.input if spec.cache_write is None else spec.cache_write
    return Decimal(0), *(d / MILLION for d in (spec.input, read, write, spec.output))  # type: ignore[return-value]


@functools.cache
def _genai_price(name: str, provider: str | None, base_url: str | None) -> Price | None:
    found = _cached_lookup(name, provider, base_url)
    if found is None:
        return None
    source, pieces = found
    return Price(name, source, pieces, partial(_genai_rates, name, provider, base_url))


def _cached_lookup(
    name: str, provider: str | None, base_url: str | None
) -> tuple[str, Pieces | None] | None:
    """genai-prices' answer, from the price cache when this version has given it before."""
    version, key = genai_version(), (name, provider, base_url)
    if version:
        hit = pricecache.get(version, key)
        if not isinstance(hit, pricecache.Miss):
            return None if hit is None else hit[:2]
    found = _lookup(name, provider, base_url)
    if version and found is None:
        pricecache.put(version, key, None)
    elif version and found is not None and found[1] is not None and found[2] != date.min:
        pricecache.put(version, key, (found[0], found[1], found[2]))
    return None if found is None else found[:2]


def _lookup(
    name: str, provider: str | None, base_url: str | None
) -> tuple[str, Pieces | None, date | None] | None:
    """(source, pieces, until): until is the UTC date a dated price changes on, None if never,
    date.min when it may change at any time (a time-of-day price)."""
    found = _find(name, provider, base_url)
    if found is None:
        return None
    source, info = found
    now = datetime.now(UTC)
    return source, pieces_from(info.get_prices(now)), _changes_on(info, now)


def _changes_on(info: ModelInfo, now: datetime) -> date | None:
    from genai_prices.types import StartDateConstraint

    if not isinstance(info.prices, list):
        return None
    constraints = [c.constraint for c in info.prices if c.constraint is not None]
    if not all(isinstance(c, StartDateConstraint) for c in constraints):
        return date.min
    ahead = [c.start_date for c in constraints if c.start_date > now.date()]  # type: ignore[union-attr]
    return min(ahead, default=None)


def _find(name: str, provider: str | None, base_url: str | None) -> tuple[str, ModelInfo] | None:
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    for ref in dict.fromkeys((name, strip_provider(name))):
        try:
            found, info = snapshot.find_provider_model(ref, None, provider, base_url)
        except LookupError:
            continue
        return f"genai-prices {found.id}/{info.id}", info
    return None


def _genai_rates(name: str, provider: str | None, base_url: str | None) -> ModelPrice:
    found = _find(name, provider, base_url)
    assert found is not None  # a price was found for this model before
    return found[1].get_prices(datetime.now(UTC))


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


@functools.cache
def genai_version() -> str | None:
    """The installed genai-prices' version, None when it cannot be told."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return None


def data_version(overrides: int = 0) -> str:
    """`genai-prices 0.2.3`, plus how many prices the crew file set."""
    found = genai_version()
    base = f"genai-prices {found}" if found else "genai-prices (version unknown)"
    return f"{base} + {overrides} from the crew file" if overrides else base


def unpriced(model: str) -> str:
    """What an unknown price means, and how to fix it."""
    return (
        f"no price for model {model}: its cost is unknown and max_cost_usd cannot bound it "
        "(add it under prices: in the crew file; a local model costs {input: 0, output: 0})"
    )
