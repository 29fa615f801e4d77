"""Budgets on the wire: every request carries the output cap the budget planned for, `params`
cannot widen it, and a server asking for an endless retry wait is given up on at once."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest
from crewkit import events, of_type
from fakeserver import ANTHROPIC, OPENAI, FakeServer, anthropic_text, error, openai_text

from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.errors import SpecError
from mas_cli.llm.openai_wire import request_body
from mas_cli.llm.types import Message, Request
from mas_cli.spec.loader import load_crew
from mas_cli.spec.model_spec import ModelSpec


def write(folder: Path, server: FakeServer, model: dict[str, Any], **limits: Any) -> Path:
    doc = {
        "name": "wire",
        "models": {
            "gpt": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "base_url": server.url + "/v1",
                "api_key_env": "MAS_TEST_KEY",
                **model,
            },
            "claude": {
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
                "base_url": server.url,
                "api_key_env": "MAS_TEST_KEY",
                **model,
            },
        },
        "limits": {"retry_backoff_s": 0.01, "run_timeout_s": 20, **limits},
        "agents": {"o": {"role": "O", "model": "gpt"}, "a": {"role": "A", "model": "claude"}},
        "tasks": [
            {"id": "one", "agent": "o", "prompt": "Say hi."},
            {"id": "two", "agent": "a", "prompt": "Say hi."},
        ],
    }
    path = folder / "crew.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test-0123456789")


def run(path: Path, home: Path) -> Any:
    return asyncio.run(run_crew(load_crew(path), RunOptions(home=home)))


def test_every_request_carries_the_output_cap_the_budget_planned_for(
    tmp_path: Path, server: FakeServer, key: None, clean_env: Path
) -> None:
    server.openai.push(openai_text("hi"))
    server.anthropic.push(anthropic_text("hi"))
    result = run(write(tmp_path, server, {}), clean_env)
    assert result.status == "ok", result.reason
    (sent,) = server.requests(OPENAI)
    assert sent.json["max_tokens"] == 4096  # today: no cap at all, 4096 only assumed
    (sent,) = server.requests(ANTHROPIC)
    assert sent.json["max_tokens"] == 4096
    # OpenAI's own API gets the cap as max_completion_tokens.
    own = Request(ModelSpec(provider="openai", model="gpt-4o-mini"), "", (Message("user", "x"),))
    assert request_body(own)["max_completion_tokens"] == 4096


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"max_tokens": 2000}, "params: max_tokens would widen the output the budget plans for"),
        ({"max_completion_tokens": 9000}, "params: max_completion_tokens would widen"),
        ({"n": 5}, "n > 1 multiplies the billed output"),
        ({"n": True}, "n > 1 multiplies the billed output"),
        ({"best_of": 3}, "best_of > 1 bills every candidate"),
        # llama-server's own cap, taken over max_tokens (see realservers/test_llama.py).
        ({"n_predict": 60}, "params: n_predict would widen the output the budget plans for"),
        ({"n_predict": -1}, "params: n_predict would widen"),
        ({"num_predict": 500}, "params: num_predict would widen"),
        ({"n_cmpl": 3}, "n_cmpl > 1 multiplies the billed output"),
    ],
)
def test_params_that_widen_the_output_are_refused_with_file_and_line(
    tmp_path: Path, server: FakeServer, params: dict[str, Any], says: str
) -> None:
    path = write(tmp_path, server, {"params": params})
    path.write_text(json.dumps(json.loads(path.read_text()), indent=1), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_crew(path)
    message = str(caught.value)
    assert f"{path}:" in message
    assert says in message
    assert "max_tokens" in message or "remove it" in message  # what to use instead


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"model": "gpt-4o"}, "model cannot be set in params; name the model in the model's own"),
        ({"messages": []}, "messages cannot be set in params; remove it"),
        ({"system": "x"}, "system cannot be set in params; remove it"),
        ({"tools": []}, "tools cannot be set in params; give the agent tools"),
        ({"stream": True}, "stream cannot be set in params; remove it"),
    ],
)
def test_params_that_replace_what_mas_sends_are_refused_with_file_and_line(
    tmp_path: Path, server: FakeServer, params: dict[str, Any], says: str
) -> None:
    # {model: gpt-4o} in params sent every call to gpt-4o while the budget priced gpt-4o-mini.
    path = write(tmp_path, server, {"params": params})
    path.write_text(json.dumps(json.loads(path.read_text()), indent=1), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_crew(path)
    assert f"{path}:" in str(caught.value)
    assert f"models.gpt.params: {says}" in str(caught.value)


def test_harmless_params_still_pass() -> None:
    model = ModelSpec(
        provider="openai", model="m", params={"n": 1, "n_cmpl": 1, "seed": 7, "top_p": 0.5}
    )
    assert model.params == {"n": 1, "n_cmpl": 1, "seed": 7, "top_p": 0.5}


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"retry-after": "999999999"}, "server asked to retry after 11574 days; giving up"),
        ({"retry-after": "1e308"}, "server asked to retry after 1.16e+303 days; giving up"),
        ({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, "days; giving up"),
        ({"retry-after-ms": "inf"}, "server asked to retry after forever; giving up"),
        ({"retry-after": "45"}, "server asked to retry after 45 s; giving up"),
    ],
)
@pytest.mark.usefixtures("key")
def test_a_retry_wait_past_the_ceiling_gives_up_at_once(
    tmp_path: Path, server: FakeServer, clean_env: Path, headers: dict[str, str], says: str
) -> None:
    server.openai.push(error(429, "slow down", headers=headers))
    server.anthropic.push(anthropic_text("hi"))
    # run_timeout_s is 20: without a ceiling the call would sleep until the run times out.
    result = run(write(tmp_path, server, {}, max_retry_wait_s=30), clean_env)
    assert result.status == "failed"
    assert says in result.tasks["one"].reason
    assert len(server.requests(OPENAI)) == 1
    log = events(result)
    assert not of_type(log, "retry")
    assert all(math.isfinite(c["wait_s"]) for c in of_type(log, "llm_call"))


def test_a_retry_wait_past_the_runs_time_left_gives_up(
    tmp_path: Path, server: FakeServer, key: None, clean_env: Path
) -> None:
    server.openai.push(error(429, "slow down", headers={"retry-after-ms": "15000"}))
    server.anthropic.push(anthropic_text("hi"))
    result = run(write(tmp_path, server, {}, run_timeout_s=10), clean_env)
    reason = result.tasks["one"].reason
    assert "server asked to retry after 15 s; giving up (" in reason
    assert "s of the run left)" in reason


def test_a_short_retry_wait_is_still_waited(
    tmp_path: Path, server: FakeServer, key: None, clean_env: Path
) -> None:
    server.openai.push(error(429, "slow down", headers={"retry-after-ms": "20"}), openai_text("hi"))
    server.anthropic.push(anthropic_text("hi"))
    result = run(write(tmp_path, server, {}), clean_env)
    assert result.status == "ok", result.reason
    [retry] = of_type(events(result), "retry")
    assert retry["wait_s"] >= 0.02


def test_a_rate_limit_window_reset_far_away_is_waited_at_most_max_retry_wait_s(
    tmp_path: Path, server: FakeServer, key: None, clean_env: Path
) -> None:
    headers = {
        "retry-after-ms": "10",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "999999999s",
    }
    server.openai.push(error(429, "slow down", headers=headers), openai_text("hi"))
    server.anthropic.push(anthropic_text("hi"))
    path = write(tmp_path, server, {}, max_retry_wait_s=0.3, run_timeout_s=10)
    doc = json.loads(path.read_text())
    # keyed by the model: a provider's key covers only its own endpoint, not this local server
    path.write_text(json.dumps({**doc, "rate_limits": {"gpt": {"rpm": 6000}}}))
    result = run(path, clean_env)
    assert result.status == "ok", result.reason  # today: held until the run times out
    waits = [e["wait_s"] for e in of_type(events(result), "rate_limited")]
    assert waits
    assert all(0 < w <= 0.3 for w in waits)
