"""The price cache: prices from disk equal genai-prices' own, exactly, or the cache is not used.

A run whose models' prices were looked up once prices them again without importing
genai-prices; every cached price, tiers included, costs what genai-prices says; a tampered,
foreign, stale or unwritable cache is a miss, never a wrong price or a failed run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.cost import pricecache, prices
from mas_cli.cost.prices import Tokens, calc, find_price
from mas_cli.spec.model_spec import ModelSpec, PriceSpec

ROOT = Path(__file__).resolve().parent.parent
# Models of three providers, tiered (claude-sonnet-4-5, gemini-2.5-pro) and dated
# (claude-sonnet-4-6) among them.
MODELS = [
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "o3-mini"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-opus-4-6"),
    ("anthropic", "claude-haiku-4-5"),
]


@pytest.fixture(autouse=True)
def cold() -> Iterator[None]:
    """Each test starts with no price remembered in this process."""
    prices._genai_price.cache_clear()
    yield
    prices._genai_price.cache_clear()


def _spec(provider: str, model: str, base_url: str | None = None) -> ModelSpec:
    return ModelSpec.model_validate({"provider": provider, "model": model, "base_url": base_url})


def _genai(provider: str, model: str) -> Any:
    """genai-prices' own rates for the model, now."""
    _source, info = prices._find(model, provider, None)  # type: ignore[misc]
    return info.get_prices(datetime.now(UTC))


def _cache_file() -> Path:
    version = prices.genai_version()
    assert version is not None
    return pricecache._path(version)


def _from_cache(provider: str, model: str) -> prices.Price:
    """The price as a fresh process finds it: through the file the first lookup wrote."""
    find_price(_spec(provider, model))
    prices._genai_price.cache_clear()
    price = find_price(_spec(provider, model))
    assert price is not None
    return price


def test_a_lookup_is_written_and_read_back_the_same() -> None:
    first = find_price(_spec("anthropic", "claude-sonnet-4-5"))
    assert first is not None
    assert _cache_file().exists()
    prices._genai_price.cache_clear()
    second = find_price(_spec("anthropic", "claude-sonnet-4-5"))
    assert second == first  # source and every tier's coefficients
    assert first.pieces is not None
    assert len(first.pieces) == 2  # sonnet 4.5 has a tier from 200k input tokens


@settings(max_examples=150, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    fresh=st.one_of(st.integers(0, 400_000), st.sampled_from([0, 1, 199_999, 200_000, 200_001])),
    read=st.integers(0, 100_000),
    write=st.integers(0, 100_000),
    output=st.integers(0, 50_000),
)
def test_cached_prices_cost_what_genai_prices_says(
    model: tuple[str, str], fresh: int, read: int, write: int, output: int
) -> None:
    price = _from_cache(*model)
    for usage in (Tokens(fresh + read + write, output, read, write), Tokens(fresh, output)):
        assert price.cost(usage) == calc(_genai(*model), usage)


def test_every_priced_model_of_three_providers_caches_genai_prices_arithmetic() -> None:
    """Each model of openai, anthropic and google: the cache holds what genai-prices computes."""
    from genai_prices.data_snapshot import get_snapshot

    checked = 0
    for provider in get_snapshot().providers:
        if provider.id not in ("openai", "anthropic", "google"):
            continue
        for info in provider.models:
            rates = info.get_prices(datetime.now(UTC))
            pieces = prices.pieces_from(rates)
            if pieces is None:  # a price genai-prices itself cannot compute for tokens alone
                continue
            price = prices.Price(info.id, "test", pieces, lambda r=rates: r)
            for n in (0, 1, 1_000, 128_000, 200_001, 1_000_001):
                usage = Tokens(n, n // 3 + 1, n // 4, n // 5)
                assert price.cost(usage) == calc(rates, usage), (provider.id, info.id, n)
            checked += 1
    assert checked > 100


@settings(deadline=None)
@given(
    spec=st.builds(
        PriceSpec,
        input=st.decimals(0, 100, places=4),
        output=st.decimals(0, 100, places=4),
        cached_input=st.one_of(st.none(), st.decimals(0, 100, places=4)),
        cache_write=st.one_of(st.none(), st.decimals(0, 100, places=4)),
    ),
    counts=st.tuples(*(st.integers(0, 300_000) for _ in range(4))),
)
def test_a_crew_files_price_costs_what_genai_prices_says(
    spec: PriceSpec, counts: tuple[int, int, int, int]
) -> None:
    """Overrides are arithmetic of our own, never an import of genai-prices: held equal to it."""
    fresh, read, write, output = counts
    usage = Tokens(fresh + read + write, output, read, write)
    price = find_price(_spec("openai", "x"), spec)
    assert price is not None
    assert price.cost(usage) == calc(prices._rates(spec), usage)


def test_a_time_of_day_price_is_never_cached() -> None:
    find_price(_spec("openai", "deepseek-chat", "https://api.deepseek.com"))
    entries = json.loads(_cache_file().read_text()) if _cache_file().exists() else {}
    assert not any("deepseek-chat" in key for key in entries.get("entries", {}))
    assert prices._lookup("deepseek-chat", None, "https://api.deepseek.com") is not None


def test_an_unknown_model_is_remembered_as_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_price(_spec("openai", "no-such-model-xyz")) is None
    entries = json.loads(_cache_file().read_text())["entries"]
    assert entries == {json.dumps(["no-such-model-xyz", "openai", None]): None}
    prices._genai_price.cache_clear()
    monkeypatch.setattr(prices, "_find", None)  # genai-prices is not asked again
    assert find_price(_spec("openai", "no-such-model-xyz")) is None


def _tamper(edit: Any) -> None:
    """Fill the cache for gpt-4o-mini, then let `edit` change its file."""
    find_price(_spec("openai", "gpt-4o-mini"))
    prices._genai_price.cache_clear()
    edit(_cache_file())


def _entry_set(value: Any) -> Any:
    def edit(path: Path) -> None:
        doc = json.loads(path.read_text())
        key = next(iter(doc["entries"]))
        doc["entries"][key] = value
        path.write_text(json.dumps(doc))

    return edit


SOURCE = "genai-prices openai/gpt-4o-mini"
FREE = ["0", "0", "0", "0", "0"]
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
TAMPERED = {
    "negative price": _entry_set([SOURCE, [[-1, ["0", "-1", "0", "0", "0"]]], None]),
    "NaN": _entry_set([SOURCE, [[-1, ["0", "NaN", "0", "0", "0"]]], None]),
    "infinite": _entry_set([SOURCE, [[-1, ["0", "1e999999999", "0", "0", "Infinity"]]], None]),
    "past any price": _entry_set([SOURCE, [[-1, ["0", "1e999999", "0", "0", "0"]]], None]),
    "a number, not text": _entry_set([SOURCE, [[-1, [0, 0, 0, 0, 0]]], None]),
    "four coefficients": _entry_set([SOURCE, [[-1, ["0", "0", "0", "0"]]], None]),
    "no first tier": _entry_set([SOURCE, [[5, FREE]], None]),
    "tiers out of order": _entry_set([SOURCE, [[-1, FREE], [9, FREE], [3, FREE]], None]),
    "a true start": _entry_set([SOURCE, [[-1, FREE], [True, FREE]], None]),
    "no tiers": _entry_set([SOURCE, [], None]),
    "changed yesterday": _entry_set([SOURCE, [[-1, FREE]], YESTERDAY]),
    "a bad date": _entry_set([SOURCE, [[-1, FREE]], "soon"]),
    "another version": lambda p: p.write_text(
        p.read_text().replace('"version": "', '"version": "9', 1)
    ),
    "not JSON": lambda p: p.write_text("{not json"),
    "nested deep": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "past its size": lambda p: p.write_text(" " * (pricecache.MAX_BYTES + 1) + "{}"),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("how", list(TAMPERED))
def test_a_tampered_cache_is_a_miss_never_a_wrong_price(how: str) -> None:
    _tamper(TAMPERED[how])
    price = find_price(_spec("openai", "gpt-4o-mini"))
    assert price is not None
    usage = Tokens(10_000, 500, 4_000)
    assert price.cost(usage) == Decimal("0.0015")  # 6,000 x 0.15 + 4,000 x 0.075 + 500 x 0.60


def test_a_cache_that_cannot_be_written_is_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # mas/ cannot be made under a file
    price = find_price(_spec("openai", "gpt-4o-mini"))
    assert price is not None
    assert price.cost(Tokens(10_000, 500, 4_000)) == Decimal("0.0015")


def test_a_run_priced_from_the_cache_imports_no_genai_prices(tmp_path: Path) -> None:
    """The second run of a crew: the same costs, and genai-prices never imported."""
    script = textwrap.dedent(
        """
        import json, sys
        sys.argv = ["mas", "run", "crews/fraud-review/crew.yaml", "--offline", "--quiet"]
        from mas_cli.cli import main
        try:
            main()
        finally:
            sys.stderr.write("\\nGENAI " + str("genai_prices" in sys.modules))
        """
    )
    env = {**_clean_env(), "MAS_HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path)}
    seen = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        seen.append(done.stderr.rsplit("GENAI ", 1)[1])
    assert seen == ["True", "False"]
    costs = [_run_cost(log) for log in sorted((tmp_path / "home" / "runs").glob("*/events.jsonl"))]
    assert len(costs) == 2
    assert costs[0] == costs[1]
    assert costs[0][0] > 0


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("MAS_HOME", "XDG_CACHE_HOME")}


def _run_cost(log: Path) -> tuple[float, list[float]]:
    events = [json.loads(line) for line in log.read_text().splitlines()]
    calls = [e["cost_usd"] for e in events if e["type"] == "llm_call"]
    return next(e["cost_usd"] for e in events if e["type"] == "run_finished"), calls
