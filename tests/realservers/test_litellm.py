"""Against the LiteLLM proxy (real, from the package index), both wire formats, canned models."""

from __future__ import annotations

import time
from pathlib import Path

from crewkit import of_type
from realcrew import DECISION, calls, crew, run_live
from servers import LLAMA_CTX, Server, post


def openai(litellm: Server, name: str, **more: object) -> dict[str, object]:
    return {"provider": "openai", "model": name, "base_url": litellm.url + "/v1", **more}


def test_a_proxy_reported_cost_prices_a_model_mas_has_no_price_for(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    result, items = run_live(crew(tmp_path, openai(litellm, "canned")), clean_env)
    assert result.status == "ok", result.reason
    assert result.tasks["t"].data == {"decision": "approve", "score": 0.25}
    [call] = calls(items)
    # 10 prompt and 20 completion tokens at the proxy's $0.001 and $0.002 per token.
    assert (call["input_tokens"], call["output_tokens"], call["cost_usd"]) == (10, 20, 0.05)
    assert call["cost_source"] == "proxy"


def test_json_after_think_inside_a_fence_among_prose_is_extracted_and_logged(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    result, items = run_live(crew(tmp_path, openai(litellm, "think")), clean_env)
    assert result.status == "ok", result.reason
    assert result.tasks["t"].data == {"decision": "block", "score": 0.9}
    assert len(calls(items)) == 1  # found at once, not re-asked
    [done] = of_type(items, "task_finished")
    stripped = done["answer_stripped"]
    assert "<think>" in stripped
    assert "fence" in stripped
    assert "Here it is:" in stripped
    assert "Hope that helps." in stripped


def test_an_empty_answer_is_asked_again_then_fails_saying_so(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    path = crew(tmp_path, openai(litellm, "blank"), schema=None)
    result, items = run_live(path, clean_env)
    task = result.tasks["t"]
    assert (result.status, task.status) == ("failed", "failed")
    assert task.reason == "empty answer, finish_reason stop"
    assert len(calls(items)) == 3  # the answer, then max_retries 2 re-asks
    assert [r["what"] for r in of_type(items, "retry")] == ["output_validation"] * 2


def test_a_429_label_names_the_status_once(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    path = crew(tmp_path, openai(litellm, "ratelimited"), limits={"max_retries": 0})
    result, items = run_live(path, clean_env)
    [call] = calls(items)
    assert call["error"].startswith("openai 429 rate_limit: litellm.RateLimitError")
    assert "(429)" not in call["error"]
    assert result.status == "failed"


def test_a_context_overflow_is_not_retried_and_points_at_max_history_tokens(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    result, items = run_live(crew(tmp_path, openai(litellm, "overflow")), clean_env)
    assert len(calls(items)) == 1
    reason = result.tasks["t"].reason or ""
    assert "400 context_overflow" in reason
    assert "lower limits.max_history_tokens" in reason
    assert "check the model name" not in reason


def test_tools_are_called_when_the_task_also_has_an_output_schema(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    path = crew(tmp_path, openai(litellm, "tooler"), tools=True, limits={"max_turns": 2})
    _, items = run_live(path, clean_env)
    tools = of_type(items, "tool_call")
    assert tools
    assert {t["tool"] for t in tools} == {"lookup"}
    assert tools[0]["status"] == "ok"


def test_anthropic_wire_with_a_base_url_ending_in_v1(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    model = {"provider": "anthropic", "model": "canned", "base_url": litellm.url + "/v1"}
    result, items = run_live(crew(tmp_path, model, schema=DECISION), clean_env)
    assert result.status == "ok", result.reason
    assert result.tasks["t"].data == {"decision": "approve", "score": 0.25}
    assert [c["status"] for c in calls(items)] == ["ok"]


def test_a_provider_rate_limit_does_not_throttle_a_local_server(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    """`rate_limits: {openai: ...}` is OpenAI's quota; a model with a base_url is elsewhere.
    Before the fix, the second call waited a minute for OpenAI's bucket and hit the timeout."""
    path = crew(
        tmp_path,
        openai(litellm, "blank"),
        schema=None,
        limits={"run_timeout_s": 30},
        rate_limits={"openai": {"rpm": 1}},
    )
    result, items = run_live(path, clean_env)
    assert len(calls(items)) == 3  # the answer and two re-asks, none held back
    assert not of_type(items, "rate_limited")
    assert result.tasks["t"].reason == "empty answer, finish_reason stop"


def test_cost_report_all_does_not_count_a_replay_as_new_spend(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from mas_cli.cli import app

    prices = {"canned": {"input": 10, "output": 20}}  # $ per million: $0.0005 a call
    path = crew(tmp_path, openai(litellm, "canned", max_tokens=100), prices=prices)
    live, _ = run_live(path, clean_env)
    assert live.status == "ok", live.reason
    runner = CliRunner()
    replayed = runner.invoke(app, ["run", str(path), "--replay", live.run_id])
    assert replayed.exit_code == 0, replayed.stderr
    report = runner.invoke(app, ["cost-report", "--all", "--json"])
    assert report.exit_code == 0, report.stderr
    data = json.loads(report.stdout)
    assert (data["runs"], data["replayed_runs_not_counted"]) == (1, 1)
    assert data["total"]["cost_usd"] == 0.0005
    table = runner.invoke(app, ["cost-report", "--all"])
    assert "1 replayed run not counted: a replay spends nothing new" in table.stdout


def test_a_crossed_proxy_budget_is_a_quota_not_a_rate_limit_to_retry(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    """LiteLLM answers a crossed budget with a 429 ("No deployments available - crossed budget",
    or `budget_exceeded` for a key's): before the fix it was retried as a rate limit, max_retries
    times, each attempt refused again."""
    body = {"model": "budgeted", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(50):  # the first call crosses it; the proxy books its spend after answering
        status, _, said = post(litellm.url + "/v1/chat/completions", body)
        if status != 200:
            break
        time.sleep(0.1)
    assert (status, b"crossed budget" in said) == (429, True)
    result, items = run_live(crew(tmp_path, openai(litellm, "budgeted")), clean_env)
    [call] = calls(items)
    assert call["error"].startswith("openai 429 quota: No deployments available - crossed budget")
    assert not of_type(items, "retry")
    reason = result.tasks["t"].reason or ""
    assert "raise it on the server" in reason


def test_a_server_that_reports_no_usage_is_estimated_not_zeroed_by_the_proxy(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    """The proxy fills in a usage of zeros for a server that reported none: before the fix the
    call counted 0 tokens ("provider"), and no token budget ever saw it."""
    result, items = run_live(crew(tmp_path, openai(litellm, "unmetered")), clean_env)
    assert result.status == "ok", result.reason
    [call] = calls(items)
    assert call["raw_usage"]["prompt_tokens"] == 0  # what the proxy said
    assert call["usage_source"] == "estimate"
    assert call["input_tokens"] > 0
    assert call["output_tokens"] > 0


def test_a_context_overflow_behind_the_proxy_names_the_window_it_quotes(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    """The proxy passes llama-server's overflow on as text ("... the available context size
    (1024 tokens)"), its n_ctx field gone: before the fix the hint named no window."""
    path = crew(tmp_path, openai(litellm, "tiny", max_tokens=16), schema=None)
    long_prompt = "Review account a-1. " + "The account history is long. " * 200
    path.write_text(path.read_text().replace("Review account a-1.", long_prompt))
    result, items = run_live(path, clean_env)
    assert len(calls(items)) == 1  # not retried
    reason = result.tasks["t"].reason or ""
    assert "400 context_overflow" in reason
    assert f"the server's window of {LLAMA_CTX} tokens" in reason


def test_an_error_the_proxy_sends_with_status_200_is_shown_as_an_error(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    """The proxy cannot translate a usage-less answer to Anthropic's wire, and says so in an
    error body sent with status 200: before the fix the user read that the server was not
    speaking the provider's API and should check base_url."""
    model = {"provider": "anthropic", "model": "unmetered", "base_url": litellm.url}
    result, items = run_live(crew(tmp_path, model), clean_env)
    [call] = calls(items)  # not retried: the same answer would fail the same way
    assert call["error"].startswith("anthropic 200 error in a success response: litellm.")
    reason = result.tasks["t"].reason or ""
    assert "check base_url" not in reason
    assert "failed although it answered 200" in reason


def test_an_answer_the_proxy_says_ended_but_that_filled_max_tokens_is_cut_off(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    """On Anthropic's wire the proxy sends the call to llama-server's Responses API and reports
    stop_reason end_turn for an answer stopped at max_tokens: before the fix the cut text was
    the task's output, and the run ended ok."""
    model = {"provider": "anthropic", "model": "tiny", "base_url": litellm.url, "max_tokens": 24}
    result, items = run_live(crew(tmp_path, {**model, "temperature": 0}, schema=None), clean_env)
    [call] = calls(items)
    assert (call["finish_reason"], call["output_tokens"]) == ("end_turn", 24)
    assert result.tasks["t"].status == "failed"
    assert (result.tasks["t"].reason or "").startswith(
        "answer cut off at max_tokens 24 (all 24 tokens written, though the server said "
        "finish_reason end_turn)"
    )
