"""Usage a server reports oddly never lets a run pass its budget: counts written as floats,
more cached tokens than prompt tokens, and counts that are not counts (negative, NaN, text,
missing) are read as what the server bills, or estimated, never taken as zero."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from crewkit import events, of_type
from fakeserver import ANTHROPIC, OPENAI, FakeServer, Reply, anthropic_text, openai_text

from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.spec.loader import load_crew

BUDGET = 0.05
INPUT_PER_M, OUTPUT_PER_M = 1.0, 10.0  # dollars per million tokens
TASKS = 20


def _crew(folder: Path, server: FakeServer, provider: str) -> Path:
    base = server.url + ("/v1" if provider == "openai" else "")
    doc = {
        "name": "usage",
        "models": {
            "m": {
                "provider": provider,
                "model": "odd-usage",
                "base_url": base,
                "api_key_env": "MAS_TEST_KEY",
                # above the 1,000 output tokens billed: on Anthropic's wire all of max_tokens
                # written is a cut-off answer, whatever its stop_reason
                "max_tokens": 1024,
            }
        },
        "prices": {"odd-usage": {"input": INPUT_PER_M, "output": OUTPUT_PER_M}},
        "limits": {"max_cost_usd": BUDGET, "max_llm_calls": 50, "run_timeout_s": 30},
        "agents": {"a": {"role": "A", "model": "m"}},
        "tasks": [{"id": f"t{i}", "agent": "a", "prompt": "Say hi."} for i in range(TASKS)],
    }
    path = folder / "crew.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _run(
    tmp_path: Path, server: FakeServer, home: Path, provider: str, usage: dict[str, Any]
) -> Any:
    if provider == "openai":
        server.openai.handler = lambda _body: openai_text("hi", usage=usage)
    else:
        server.anthropic.handler = lambda _body: anthropic_text("hi", usage=usage)
    path = _crew(tmp_path, server, provider)
    return asyncio.run(run_crew(load_crew(path), RunOptions(home=home)))


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test-0123456789")


BILLED = [  # (provider, usage, the (input, output) tokens the server bills for each call)
    ("openai", {"prompt_tokens": 100.0, "completion_tokens": 1000.0}, (100, 1000)),
    ("openai", {"prompt_tokens": 99.5, "completion_tokens": 999.2}, (100, 1000)),
    (
        "openai",  # a proxy that kept Anthropic's meaning: the prompt count leaves cache reads out
        {
            "prompt_tokens": 100,
            "completion_tokens": 1000,
            "prompt_tokens_details": {"cached_tokens": 200},
        },
        (300, 1000),
    ),
    ("anthropic", {"input_tokens": 100.0, "output_tokens": 1000.0}, (100, 1000)),
]


@pytest.mark.parametrize("case", BILLED)
def test_a_usage_the_server_bills_stops_the_run_at_its_budget(
    tmp_path: Path, server: FakeServer, clean_env: Path, case: tuple[Any, ...]
) -> None:
    provider, usage, billed = case
    result = _run(tmp_path, server, clean_env, provider, usage)
    calls = len(server.requests(OPENAI if provider == "openai" else ANTHROPIC))
    per_call = (billed[0] * INPUT_PER_M + billed[1] * OUTPUT_PER_M) / 1_000_000
    assert calls * per_call <= BUDGET, f"{calls} calls billed ${calls * per_call:.4f}"
    assert result.status == "stopped"
    assert "max_cost_usd" in (result.reason or "")
    first = of_type(events(result), "llm_call")[0]
    assert (first["input_tokens"], first["output_tokens"]) == billed
    assert first["usage_source"] == "provider"
    assert first["cost_usd"] == pytest.approx(per_call)


UNREADABLE = [
    ("openai", {"prompt_tokens": 100, "completion_tokens": -1000}),
    ("openai", {"prompt_tokens": 100, "completion_tokens": "1000"}),
    ("openai", {"prompt_tokens": 100, "completion_tokens": True}),
    ("openai", {"prompt_tokens": 100}),
    ("anthropic", {"input_tokens": -5, "output_tokens": 1000}),
    ("anthropic", {"input_tokens": 100, "output_tokens": 1000, "cache_read_input_tokens": "x"}),
    ("anthropic", {"output_tokens": 1000}),
    # what the LiteLLM proxy says for a server that reported no usage (realservers/test_litellm)
    ("openai", {"completion_tokens": 0, "prompt_tokens": 0, "total_tokens": 0}),
    ("openai", {"prompt_tokens": 0, "completion_tokens": 12}),
    ("anthropic", {"input_tokens": 0, "output_tokens": 0}),
]


@pytest.mark.parametrize(("provider", "usage"), UNREADABLE)
def test_counts_that_are_not_counts_are_estimated_not_taken_as_zero(
    tmp_path: Path, server: FakeServer, clean_env: Path, provider: str, usage: dict[str, Any]
) -> None:
    result = _run(tmp_path, server, clean_env, provider, usage)
    calls = of_type(events(result), "llm_call")
    assert calls
    for call in calls:
        assert call["usage_source"] == "estimate"
        assert call["input_tokens"] > 0
        assert call["output_tokens"] > 0
        assert call["cost_usd"] > 0
        assert call["raw_usage"] == usage  # kept for audits


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_nan_count_is_estimated_and_the_log_stays_json(
    tmp_path: Path, server: FakeServer, clean_env: Path, provider: str
) -> None:
    counts = ("prompt_tokens", "completion_tokens")
    if provider == "anthropic":
        counts = ("input_tokens", "output_tokens")
    body = f'{{"{counts[0]}": 100, "{counts[1]}": NaN}}'
    answer = (openai_text if provider == "openai" else anthropic_text)("hi").json
    raw = json.dumps({**answer, "usage": "USAGE"}).replace('"USAGE"', body).encode()
    route = server.openai if provider == "openai" else server.anthropic
    route.handler = lambda _body: Reply(body=raw, headers={"content-type": "application/json"})
    result = asyncio.run(
        run_crew(load_crew(_crew(tmp_path, server, provider)), RunOptions(home=clean_env))
    )
    text = (Path(result.run_dir) / "events.jsonl").read_text(encoding="utf-8")
    assert "NaN" not in text
    calls = of_type(events(result), "llm_call")
    assert calls
    assert all(c["usage_source"] == "estimate" and c["output_tokens"] > 0 for c in calls)
