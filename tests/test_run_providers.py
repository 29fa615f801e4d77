"""`mas run` end to end against the local wire-compatible server: OpenAI, Anthropic, a crew
mixing both, retries, stops, rate limits, replay with the server gone, and a canary key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakeserver import (
    ANTHROPIC,
    OPENAI,
    FakeServer,
    Reply,
    anthropic_error,
    anthropic_text,
    anthropic_tools,
    error,
    openai_text,
    openai_tools,
)
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.tools.cache import cache_dir

CANARY = "sk-canary-1234567890"
HEADER_CANARY = "hdr-canary-0987654321"
runner = CliRunner()

TOOLS_PY = '''
def lookup_account(account_id: str) -> dict:
    """Look an account up: its age and usual amounts."""
    return {"account_id": account_id, "age_days": 3, "usual_amount": 120}
'''

DECISION = {
    "type": "object",
    "required": ["decision", "fraud_score"],
    "properties": {
        "decision": {"type": "string", "enum": ["approve", "review", "block"]},
        "fraud_score": {"type": "number"},
    },
}


def _crew(
    tmp_path: Path, server: FakeServer, agents: dict[str, Any], tasks: list[Any], **extra: Any
) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS_PY, encoding="utf-8")
    doc = {
        "name": "e2e",
        "process": "parallel",
        "models": {
            "fast": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "base_url": server.url + "/v1",
                "api_key_env": "MAS_TEST_KEY",
                "headers": {"X-Team-Token": HEADER_CANARY},
            },
            "careful": {
                "provider": "anthropic",
                "model": "claude-sonnet-4-6",
                "base_url": server.url,
                "api_key_env": "MAS_TEST_KEY",
                "max_tokens": 512,
                "prompt_caching": True,
            },
        },
        "limits": {"retry_backoff_s": 0.01, "max_retries": 2, "llm_timeout_s": 5, "max_turns": 4},
        "tools": {
            "lookup_account": {"function": "tools.py:lookup_account", "kind": "deterministic"}
        },
        "agents": agents,
        "tasks": tasks,
        **extra,
    }
    path = tmp_path / "crew.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
    return path


def _analyst_crew(tmp_path: Path, server: FakeServer, **extra: Any) -> Path:
    agents = {"analyst": {"role": "Analyst", "model": "fast", "tools": ["lookup_account"]}}
    tasks = [
        {
            "id": "analyze",
            "agent": "analyst",
            "prompt": "Analyze acct-7.",
            "output_schema": DECISION,
        }
    ]
    return _crew(tmp_path, server, agents, tasks, **extra)


def _plain_crew(tmp_path: Path, server: FakeServer, **extra: Any) -> Path:
    agents = {"analyst": {"role": "Analyst", "model": "fast", "tools": ["lookup_account"]}}
    tasks = [{"id": "analyze", "agent": "analyst", "prompt": "Analyze acct-7."}]
    return _crew(tmp_path, server, agents, tasks, **extra)


def _mixed_crew(tmp_path: Path, server: FakeServer) -> Path:
    agents = {
        "analyst": {"role": "Analyst", "model": "fast", "tools": ["lookup_account"]},
        "scorer": {"role": "Scorer", "model": "fast"},
        "judge": {"role": "Judge", "model": "careful", "tools": ["lookup_account"]},
    }
    tasks = [
        {"id": "analyze", "agent": "analyst", "prompt": "Analyze acct-7."},
        {"id": "score", "agent": "scorer", "prompt": "Score acct-7."},
        {
            "id": "decide",
            "agent": "judge",
            "depends_on": ["analyze", "score"],
            "prompt": "Decide on acct-7 given {analyze} and {score}.",
            "output_schema": DECISION,
        },
    ]
    return _crew(tmp_path, server, agents, tasks)


def _run(*args: str) -> Any:
    return runner.invoke(app, ["run", *args])


def _events(home: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    run_id = run_id or _last_run(home)
    lines = (home / "runs" / run_id / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _last_run(home: Path) -> str:
    return sorted(p.name for p in (home / "runs").iterdir())[-1]


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def _openai_agent(body: Any) -> Reply:
    """Call lookup_account once, then answer: JSON when asked for it, else text."""
    messages = body["messages"]
    if body.get("tools") and not any(m["role"] == "tool" for m in messages):
        return openai_tools(("lookup_account", '{"account_id": "acct-7"}'))
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    return openai_text("acct-7 is three days old; the amount is unusual.", usage=usage)


def _anthropic_agent(body: Any) -> Reply:
    results = [
        b
        for m in body["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if b["type"] == "tool_result"
    ]
    if not results:
        return anthropic_tools(("lookup_account", {"account_id": "acct-7"}), text="Checking.")
    usage = {
        "input_tokens": 40,
        "cache_read_input_tokens": 900,
        "cache_creation_input_tokens": 100,
        "output_tokens": 20,
    }
    return anthropic_text('{"decision": "review", "fraud_score": 0.7}', usage=usage)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MAS_TEST_KEY", CANARY)
    return CANARY


def test_openai_crew_retries_a_429_calls_tools_in_parallel_and_answers_structured(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.openai.push(
        error(429, "Rate limit reached", headers={"retry-after-ms": "20"}),
        openai_tools(
            ("lookup_account", '{"account_id": "acct-7"}'),
            ("lookup_account", '{"account_id": "acct-9"}'),
        ),
        openai_text(
            '{"decision": "block", "fraud_score": 0.9}',
            usage={
                "prompt_tokens": 300,
                "completion_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 256},
            },
        ),
    )
    result = _run(str(_analyst_crew(tmp_path, server)))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"decision": "block", "fraud_score": 0.9}
    events = _events(clean_env)
    calls = _of(events, "llm_call")
    assert [(c["turn"], c["attempt"], c["status"], c.get("http_status")) for c in calls] == [
        (1, 1, "error", 429),
        (1, 2, "ok", None),
        (2, 1, "ok", None),
    ]
    assert calls[1]["wait_s"] >= 0.02  # retry-after-ms is a floor under the jittered backoff
    assert (calls[2]["input_tokens"], calls[2]["cache_read_tokens"], calls[2]["usage_source"]) == (
        300,
        256,
        "provider",
    )
    assert calls[2]["raw_usage"]["prompt_tokens_details"] == {"cached_tokens": 256}
    assert [t["status"] for t in _of(events, "tool_call")] == ["ok", "ok"]
    assert _of(events, "retry")[0]["what"] == "llm_call"
    sent = server.requests(OPENAI)
    assert len(sent) == 3
    # Tools are offered: no response_format (a server's grammar would silence the tools);
    # the schema is in the system prompt and the answer is validated.
    assert "response_format" not in sent[2].json
    assert json.dumps(DECISION, sort_keys=True) in sent[2].json["messages"][0]["content"]
    assert [m["tool_call_id"] for m in sent[2].json["messages"] if m["role"] == "tool"] == [
        "call_0",
        "call_1",
    ]
    recorded_run = _last_run(clean_env)
    records = (clean_env / "runs" / recorded_run / "llm.jsonl").read_text().splitlines()
    assert [json.loads(r)["attempt"] for r in records] == [1, 2, 1]
    server.stop()  # the replay serves the 429 again, then the answers
    again = _run(str(tmp_path / "crew.yaml"), "--replay", recorded_run)
    assert again.exit_code == 0, again.stderr
    assert again.stdout == result.stdout
    replayed = _of(_events(clean_env), "llm_call")
    assert [(c["attempt"], c["status"], c.get("http_status")) for c in replayed] == [
        (1, "error", 429),
        (2, "ok", None),
        (1, "ok", None),
    ]


def test_anthropic_crew_retries_529_and_sends_cache_control(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.anthropic.push(anthropic_error(529, "overloaded_error", "Overloaded"))
    server.anthropic.handler = _anthropic_agent
    agents = {"judge": {"role": "Judge", "model": "careful", "tools": ["lookup_account"]}}
    tasks = [
        {"id": "decide", "agent": "judge", "prompt": "Decide on acct-7.", "output_schema": DECISION}
    ]
    result = _run(str(_crew(tmp_path, server, agents, tasks)))
    assert result.exit_code == 0, result.stderr
    calls = _of(_events(clean_env), "llm_call")
    assert [(c["attempt"], c["status"], c.get("http_status")) for c in calls] == [
        (1, "error", 529),
        (2, "ok", None),
        (1, "ok", None),
    ]
    assert (
        calls[2]["input_tokens"],
        calls[2]["cache_read_tokens"],
        calls[2]["cache_write_tokens"],
    ) == (1040, 900, 100)
    first = server.requests(ANTHROPIC)[1].json
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert first["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    last = server.requests(ANTHROPIC)[2].json["messages"]
    assert last[-1]["content"][0]["type"] == "tool_result"


def test_a_crew_mixing_providers_runs_and_replays_with_the_server_stopped(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.openai.handler = _openai_agent
    server.anthropic.handler = _anthropic_agent
    crew = str(_mixed_crew(tmp_path, server))
    first = _run(crew)
    assert first.exit_code == 0, first.stderr
    recorded_run = _last_run(clean_env)
    calls = _of(_events(clean_env), "llm_call")
    assert sorted({(c["provider"], c["model"]) for c in calls}) == [
        ("anthropic", "claude-sonnet-4-6"),
        ("openai", "gpt-4o-mini"),
    ]
    assert len(server.seen) == 5  # analyst 2, scorer 1, judge 2
    server.stop()
    again = _run(crew, "--replay", recorded_run[:20])
    assert again.exit_code == 0, again.stderr
    assert again.stdout == first.stdout
    replayed = _events(clean_env)
    assert replayed[0]["replay_of"] == recorded_run
    strip = ("ts", "run_id", "trace_id", "span_id", "parent_id", "latency_s")

    def same(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(
            json.dumps({k: v for k, v in e.items() if k not in strip}, sort_keys=True)
            for e in _of(events, "llm_call")
        )

    assert same(replayed) == same(_events(clean_env, recorded_run))
    assert len(server.seen) == 5  # analyst 2, scorer 1, judge 2


def test_replay_stops_at_the_first_request_that_differs(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.openai.handler = _openai_agent
    crew = _plain_crew(tmp_path, server)
    assert _run(str(crew)).exit_code == 0
    recorded_run = _last_run(clean_env)
    server.stop()
    crew.write_text(
        crew.read_text().replace("Analyze acct-7.", "Analyze acct-8."), encoding="utf-8"
    )
    result = _run(str(crew), "--replay", recorded_run)
    assert result.exit_code == 1
    assert (
        "replay: agent analyst, task analyze, turn 1, attempt 1 differs from llm.jsonl line 1 "
        "at messages[0].content: recorded 'Analyze acct-7.', now 'Analyze acct-8.'"
    ) in " ".join(result.stderr.split())


def test_an_offline_run_replays_offline(
    tmp_path: Path, server: FakeServer, clean_env: Path
) -> None:
    crew = str(_mixed_crew(tmp_path, server))
    first = _run(crew, "--offline")
    assert first.exit_code == 0, first.stderr
    again = _run(crew, "--replay", _last_run(clean_env))
    assert again.exit_code == 0, again.stderr
    assert again.stdout == first.stdout
    started = _events(clean_env)[0]
    assert (started["offline"], started["replay_of"] is not None) == (True, True)
    assert server.seen == []


@pytest.mark.parametrize("other", ["--offline", "--estimate"])
def test_replay_does_not_combine_with_offline_or_estimate(
    tmp_path: Path, server: FakeServer, other: str
) -> None:
    result = _run(str(_plain_crew(tmp_path, server)), other, "--replay", "x")
    assert result.exit_code == 2
    assert f"--replay and {other} cannot be combined" in result.stderr


def test_replay_of_an_unknown_run_is_a_usage_error(
    tmp_path: Path, server: FakeServer, clean_env: Path
) -> None:
    result = _run(str(_analyst_crew(tmp_path, server)), "--replay", "nope")
    assert result.exit_code == 2
    assert "no runs under" in result.stderr


def test_insufficient_quota_stops_without_retrying(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.openai.push(
        error(
            429,
            "You exceeded your current quota.",
            code="insufficient_quota",
            headers={"retry-after": "0"},
        )
    )
    result = _run(str(_analyst_crew(tmp_path, server)))
    assert result.exit_code == 1
    assert len(server.seen) == 1
    stderr = " ".join(result.stderr.split())
    assert "openai 429 quota (insufficient_quota): You exceeded your current quota." in stderr
    assert "add credit or raise the limit" in stderr
    assert not _of(_events(clean_env), "retry")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_tool_call_cut_off_at_max_tokens_fails_saying_so(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path, provider: str
) -> None:
    """A server stops at the cap mid-call (llama-server: finish_reason length, arguments '{'):
    before the fix the agent was told to send JSON, and the same cap cut its next call too."""
    if provider == "openai":
        usage = {"prompt_tokens": 90, "completion_tokens": 4096}
        reply = openai_tools(("lookup_account", '{"account_id": "ac'), usage=usage)
        reply.json["choices"][0]["finish_reason"] = "length"
        server.openai.push(reply)
        model = "fast"
    else:
        reply = anthropic_tools(("lookup_account", '{"account_id": "ac'))
        reply.json["stop_reason"] = "max_tokens"
        reply.json["usage"] = {"input_tokens": 90, "output_tokens": 512}
        server.anthropic.push(reply)
        model = "careful"
    agents = {"analyst": {"role": "Analyst", "model": model, "tools": ["lookup_account"]}}
    tasks = [{"id": "analyze", "agent": "analyst", "prompt": "Analyze acct-7."}]
    result = _run(str(_crew(tmp_path, server, agents, tasks)))
    assert result.exit_code == 1
    assert len(server.seen) == 1  # not asked again: the same cap would cut it again
    stderr = " ".join(result.stderr.split())
    cap = 4096 if provider == "openai" else 512
    assert f"answer cut off at max_tokens {cap} in the arguments of lookup_account" in stderr
    assert "raise max_tokens on the model" in stderr
    assert not _of(_events(clean_env), "tool_call")


@pytest.mark.parametrize(
    ("output_tokens", "says"),
    [
        (4096, "answer cut off at max_tokens 4096 (finish_reason length): raise max_tokens"),
        (
            68,
            "answer cut off after 68 tokens, under max_tokens 4096 (finish_reason length): "
            "the prompt and the answer filled the model's context window",
        ),
    ],
)
def test_a_cut_off_answer_names_the_cap_or_the_context_window_that_cut_it(
    tmp_path: Path, server: FakeServer, key: str, output_tokens: int, says: str
) -> None:
    """llama-server stops with finish_reason length when the context fills, far under the cap:
    raising max_tokens cannot help there."""
    usage = {"prompt_tokens": 956, "completion_tokens": output_tokens}
    reply = openai_text("a long answer that", usage=usage)
    reply.json["choices"][0]["finish_reason"] = "length"
    server.openai.push(reply)
    result = _run(str(_plain_crew(tmp_path, server)))
    assert result.exit_code == 1
    assert says in " ".join(result.stderr.split())


def test_an_anthropic_answer_that_filled_max_tokens_is_cut_off_whatever_its_stop_reason(
    tmp_path: Path, server: FakeServer, key: str
) -> None:
    """The LiteLLM proxy says end_turn for an answer its upstream stopped at the cap."""
    reply = anthropic_text("the first 512 tokens of a longer", usage={"input_tokens": 90})
    reply.json["usage"]["output_tokens"] = 512
    server.anthropic.push(reply)
    agents = {"analyst": {"role": "Analyst", "model": "careful"}}
    tasks = [{"id": "analyze", "agent": "analyst", "prompt": "Analyze acct-7."}]
    result = _run(str(_crew(tmp_path, server, agents, tasks)))
    assert result.exit_code == 1
    assert (
        "answer cut off at max_tokens 512 (all 512 tokens written, though the server said "
        "finish_reason end_turn)" in " ".join(result.stderr.split())
    )


def test_retries_stop_at_max_retries(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.openai.push(*[error(500, "boom")] * 3)
    result = _run(str(_analyst_crew(tmp_path, server)))
    assert result.exit_code == 1
    assert [c["attempt"] for c in _of(_events(clean_env), "llm_call")] == [1, 2, 3]
    assert "openai 500 server_error: boom" in result.stderr


def test_a_response_slower_than_llm_timeout_is_retried(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.openai.push(Reply(delay_s=5, json=openai_text("late").json))
    server.openai.handler = _openai_agent
    crew = _plain_crew(tmp_path, server)
    crew.write_text(
        crew.read_text().replace('"llm_timeout_s": 5', '"llm_timeout_s": 1'), encoding="utf-8"
    )
    result = _run(str(crew))
    assert result.exit_code == 0, result.stderr
    calls = _of(_events(clean_env), "llm_call")
    assert (calls[0]["attempt"], calls[0]["status"]) == (1, "timeout")
    assert calls[0]["error"] in ("no answer within llm_timeout_s 1", "openai: no answer within 1s")
    assert calls[-1]["status"] == "ok"


def test_a_429_with_exhausted_window_holds_the_rate_limit_bucket(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    headers = {
        "retry-after-ms": "10",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "300ms",
    }
    server.openai.push(error(429, "Rate limit reached", headers=headers))
    server.openai.handler = _openai_agent
    # keyed by the model: a provider's key covers only its own endpoint, not this local server
    crew = _plain_crew(tmp_path, server, rate_limits={"fast": {"rpm": 6000, "tpm": 1000000}})
    result = _run(str(crew))
    assert result.exit_code == 0, result.stderr
    events = _of(_events(clean_env), "rate_limited")
    # The retry of turn 1 waits for the window to reset (300 ms, less the 10 ms retry-after);
    # later calls may wait a few ms more while the bucket refills.
    first = events[0]
    assert (first["limit"], first["turn"]) == ("fast", 1)
    assert first["reason"] == "rpm 6000 (held after a 429 until the window resets)"
    assert 0 < first["wait_s"] <= 0.35
    assert "waits" in result.stderr
    shown = runner.invoke(app, ["show", "--last"])
    assert "for rate limit fast: rpm 6000 (held after a 429" in shown.stdout


def test_a_missing_key_fails_before_any_call_and_suggests_offline(
    tmp_path: Path, server: FakeServer, clean_env: Path
) -> None:
    crew = _analyst_crew(tmp_path, server)
    result = _run(str(crew))
    assert result.exit_code == 2
    assert (
        result.stderr.splitlines()[-1]
        == f"error: MAS_TEST_KEY is not set. Export it, or run offline: mas run {crew} --offline"
    )
    assert server.seen == []
    assert not (clean_env / "runs").exists()


def test_the_default_key_variable_is_named_when_there_is_no_base_url(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        "name: c\nagents: {a: {role: A, model: 'anthropic:claude-haiku-4-5'}}\ntasks: [{id: t, agent: a, prompt: hi}]\n"
    )
    result = _run(str(crew))
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY is not set. Export it, or run offline:" in result.stderr


def test_a_canary_key_appears_nowhere_on_disk_or_in_output(
    tmp_path: Path, server: FakeServer, key: str, clean_env: Path
) -> None:
    server.openai.push(
        error(401, f"Incorrect API key provided: {CANARY} with header {HEADER_CANARY}")
    )
    outputs = [_run(str(_analyst_crew(tmp_path, server)), "--json")]
    server.openai.handler = _openai_agent
    server.anthropic.handler = _anthropic_agent
    crew = str(_mixed_crew(tmp_path, server))
    outputs.append(_run(crew))
    outputs.append(_run(crew, "--replay", _last_run(clean_env)))
    assert [o.exit_code for o in outputs] == [1, 0, 0]
    assert "Incorrect API key provided: *** with header ***" in outputs[0].stderr
    seen = {
        s.headers.get("authorization", "") + s.headers.get("x-api-key", "") for s in server.seen
    }
    assert all(CANARY in s for s in seen)  # the key did reach the server...
    assert all(s.headers.get("x-team-token") == HEADER_CANARY for s in server.requests(OPENAI))
    for output in outputs:  # ...and nothing else
        assert CANARY not in output.stdout + output.stderr
        assert HEADER_CANARY not in output.stdout + output.stderr
    files = [p for p in clean_env.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"events.jsonl", "llm.jsonl", "output.json", "state.json"}
    assert any(cache_dir(clean_env) in p.parents for p in files)  # the tool cache is searched too
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data, path
        assert HEADER_CANARY.encode() not in data, path
