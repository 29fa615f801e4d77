"""The offline model counts without a tokenizer, and tokens-per-minute buckets plan at a bound
while it fits (issue 19). Neither may let a budget or a rate limit pass."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from crewkit import events, of_type, run, write_crew
from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.cost import tokens
from mas_cli.cost.approx import approx_len
from mas_cli.engine.model_calls import planned_tokens, prompt_bound, worst_tokens
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.llm.types import Completion, Message, Request, ToolSchema, Usage
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.models import CrewSpec

ROOT = Path(__file__).resolve().parents[1]
FRAUD = ROOT / "crews" / "fraud-review" / "crew.yaml"


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every encoding asked for from here on (an empty list: no tokenizer was built)."""
    asked: list[str] = []
    real = tokens._encoding

    def recording(name: str) -> Any:
        asked.append(name)
        return real(name)

    monkeypatch.setattr(tokens, "_encoding", recording)
    monkeypatch.setattr(tokens, "_building", {})
    return asked


def test_an_offline_run_of_fraud_review_builds_no_tokenizer(
    tmp_path: Path, built: list[str]
) -> None:
    """fraud-review declares an openai tpm bucket (which does not cover the offline model) and
    prices both models: nothing in its offline run needs an exact count."""
    from mas_cli.spec.loader import load_crew

    assert load_crew(FRAUD).spec.rate_limits["openai"].tpm
    result = run(FRAUD, tmp_path / "home")
    assert result.status == "ok"
    calls = of_type(events(result), "llm_call")
    assert len(calls) == 5
    assert all(c["input_tokens"] > 0 and c["output_tokens"] > 0 for c in calls)
    assert {c["usage_source"] for c in calls} == {"estimate"}
    assert built == []
    assert tokens._building == {}


def test_the_offline_usage_is_the_same_every_run(tmp_path: Path) -> None:
    def usage(home: Path) -> list[tuple[int, int, float]]:
        calls = of_type(events(run(FRAUD, home)), "llm_call")
        return [(c["input_tokens"], c["output_tokens"], c["cost_usd"]) for c in calls]

    first = usage(tmp_path / "one")
    assert usage(tmp_path / "two") == first


def _chunks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text += (ROOT / "crews" / "fraud-review" / "crew.yaml").read_text(encoding="utf-8")
    text += (ROOT / "mas_cli" / "engine" / "agent.py").read_text(encoding="utf-8")
    return [text[i : i + 400] for i in range(0, len(text), 400)]


def test_the_approximate_count_is_near_o200k_on_prose_code_and_yaml() -> None:
    """Plausible, not exact: within 10% of o200k in total, and within 25% for nine chunks in
    ten (the module's docstring states what was measured)."""
    chunks = _chunks()
    exact = [tokens.count_text(c, "gpt-4o").tokens for c in chunks]
    approx = [approx_len(c) for c in chunks]
    assert 0.9 <= sum(approx) / sum(exact) <= 1.1
    ratios = sorted(a / e for a, e in zip(approx, exact, strict=True))
    assert ratios[len(ratios) // 20] >= 0.75
    assert ratios[-len(ratios) // 20] <= 1.25


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("", 0, 0),
        ("Hello, world!", 3, 5),
        ("日本語のテキストです", 5, 12),  # no spaces between words: a token a character or so
        ("🚀" * 10, 8, 20),
        ("x" * 5000, 400, 1300),  # one long run: it splits
        ("word " * 3_000_000, 3_000_000, 4_500_000),  # past LARGE_CHARS: by size
    ],
)
def test_texts_a_word_count_would_get_wrong(text: str, low: int, high: int) -> None:
    assert low <= approx_len(text) <= high


# --- tokens-per-minute buckets plan at a bound while it fits ---------------------------------

OFFLINE = ModelSpec(provider="offline", model="gpt-4o-mini", max_tokens=50)


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def _limiter(tpm: int, clock: Clock) -> RateLimiter:
    spec = CrewSpec.model_validate(
        {
            "name": "c",
            "models": {"m": OFFLINE.model_dump(exclude_none=True)},
            "rate_limits": {"gpt-4o-mini": {"tpm": tpm}},
            "agents": {"a": {"role": "A", "model": "m"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "p"}],
        }
    )
    limiter = RateLimiter.for_crew(spec, clock)
    assert limiter is not None
    return limiter


def _request(text: str, tool: bool) -> Request:
    tools = (ToolSchema("look", "Look it up.", {"properties": {"q": {"type": "string"}}}),)
    return Request(OFFLINE, "You answer.", (Message("user", text),), tools if tool else ())


def _planned(limiter: RateLimiter, request: Request) -> int:
    ctx = SimpleNamespace(limiter=limiter, gate=None)
    return asyncio.run(planned_tokens(ctx, request))  # type: ignore[arg-type]


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(texts, st.booleans()), min_size=1, max_size=8), st.integers(1, 4000))
def test_a_tpm_bucket_is_never_passed_when_calls_are_planned_at_bounds(
    calls: list[tuple[str, bool]], tpm: int
) -> None:
    """Calls at one instant: each is planned (at its bound, or counted), reserved, and settled
    to what it used, at most its exact prompt plus its cap. A call planned below its exact
    worst case could pass the bucket; the calls let through without a wait never use more than
    the bucket held. A call planned past the whole bucket can never fit: it goes only when the
    bucket is full (and what it used is owed after)."""
    clock = Clock()
    limiter = _limiter(tpm, clock)
    bucket = limiter.limits[0].tpm
    assert bucket is not None
    used_unwaited = 0
    for text, tool in calls:
        request = _request(text, tool)
        planned = _planned(limiter, request)
        exact = worst_tokens(request)
        assert planned >= exact
        assert planned in (exact, prompt_bound(request) + OFFLINE.output_cap)
        full = bucket.holds(tpm, clock())
        ticket = limiter.reserve(OFFLINE, planned)
        if ticket.wait is None:
            assert full or planned <= tpm
            used_unwaited += min(exact, tpm)  # past the bucket, it is owed: nothing else goes
        ticket.settle(Completion(Message("assistant", "ok"), Usage(input_tokens=exact)))
    assert used_unwaited <= tpm


def test_a_bound_that_does_not_fit_is_counted_exactly(built: list[str]) -> None:
    """The bound of a long prose prompt is about 4x its count: in a bucket that holds the count
    but not the bound, the call is counted, and so goes without waiting."""
    request = _request("lorem ipsum dolor sit amet " * 80, tool=False)
    exact, bound = worst_tokens(request), prompt_bound(request) + OFFLINE.output_cap
    assert bound > 2 * exact
    built.clear()
    limiter = _limiter((exact + bound) // 2, Clock())
    assert _planned(limiter, request) == exact
    assert set(built) == {"o200k_base"}
    assert limiter.reserve(OFFLINE, exact).wait is None
    roomy = _limiter(bound, Clock())
    built.clear()
    assert _planned(roomy, request) == bound
    assert built == []


def test_a_run_under_a_tpm_bucket_that_holds_its_bounds_builds_no_tokenizer(
    tmp_path: Path, built: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    holds = RateLimiter.holds

    def recording(self: RateLimiter, model: ModelSpec, tokens: int) -> bool:
        asked.append(tokens)
        return holds(self, model, tokens)

    monkeypatch.setattr(RateLimiter, "holds", recording)
    crew = write_crew(
        tmp_path / "crew",
        """
        name: paced
        models: {m: {provider: offline, model: gpt-4o-mini, max_tokens: 64}}
        rate_limits: {gpt-4o-mini: {rpm: 600, tpm: 100000}}
        agents: {a: {role: A, model: m}}
        tasks: [{id: t, agent: a, prompt: "Say it."}]
        """,
    )
    result = run(crew, tmp_path / "home", offline=False)  # --offline would drop the buckets
    assert result.status == "ok"
    assert not of_type(events(result), "rate_limited")
    assert len(asked) == 1
    assert asked[0] > 64  # planned at the bound: the prompt and the cap
    assert built == []
