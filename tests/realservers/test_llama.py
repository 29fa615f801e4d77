"""Against llama.cpp's llama-server (built from the llama-cpp-python sdist's source) on a tiny
random model with Qwen 2.5's chat template: its OpenAI and its Anthropic endpoints.

The model's text is garbage, so every assertion holds for any output the server's grammars
allow: `tool_choice` forcing a call of a tool whose one argument is a boolean, a JSON Schema of
enums, a cap the shortest valid answer cannot fit in, greedy decoding where a figure matters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crewkit import of_type
from realcrew import calls, crew, run_live
from servers import LLAMA_CTX, Server, post
from tinymodel import END_TOKEN, TOOL_CALL_TOKEN

from mas_cli.errors import SpecError
from mas_cli.spec.loader import load_crew

VERDICT = {
    "type": "object",
    "required": ["decision"],
    "additionalProperties": False,
    "properties": {"decision": {"type": "string", "enum": ["approve", "review", "block"]}},
}
GREEDY = {"top_k": 1, "seed": 7}
USER = {"role": "user", "content": "Review account a-1."}
# A random model writes text before a tool call for ever; biased, it opens the call at once,
# the server's grammar writes the rest (a boolean argument), and the turn ends after it.
CALL_NOW = {
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "logit_bias": {str(TOOL_CALL_TOKEN): 100, str(END_TOKEN): 200},
    **GREEDY,
}


def openai(llama: Server, **more: object) -> dict[str, object]:
    return {"provider": "openai", "model": "tiny", "base_url": llama.url + "/v1", **more}


def anthropic(llama: Server, **more: object) -> dict[str, object]:
    # With the /v1 an OpenAI-style base_url has: mas must not call /v1/v1/messages.
    return {"provider": "anthropic", "model": "tiny", "base_url": llama.url + "/v1", **more}


def test_tools_and_an_output_schema_on_one_task_still_call_the_tool(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    """llama-server turns response_format into a grammar that replaces its tool-call parser:
    before the fix the tool was never called (or the request refused)."""
    model = openai(llama, max_tokens=400, params=CALL_NOW)
    path = crew(tmp_path, model, schema=VERDICT, tools="flag", limits={"max_turns": 1})
    _, items = run_live(path, clean_env)
    first = calls(items)[0]
    assert (first["status"], first["tool_calls"]) == ("ok", ["flag"])
    assert of_type(items, "tool_call")[0]["status"] == "ok"


def test_a_json_schema_answer_is_valid_and_ends_the_task(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    path = crew(tmp_path, openai(llama, max_tokens=64), schema=VERDICT)
    result, items = run_live(path, clean_env)
    assert result.status == "ok", result.reason
    assert result.tasks["t"].data["decision"] in {"approve", "review", "block"}
    [call] = calls(items)
    assert call["input_tokens"] > 0
    assert call["usage_source"] == "provider"


def test_an_answer_cut_off_by_max_tokens_fails_saying_so(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    """The shortest valid answer, {"decision":"block"}, is longer than 4 tokens."""
    path = crew(tmp_path, openai(llama, max_tokens=4), schema=VERDICT)
    result, items = run_live(path, clean_env)
    assert result.tasks["t"].status == "failed"
    assert result.tasks["t"].reason == (
        "answer cut off at max_tokens 4 (finish_reason length): "
        "raise max_tokens on the model, or ask for a shorter answer"
    )
    assert len(calls(items)) == 1  # the same cap would cut it again


def test_an_anthropic_answer_cut_off_by_max_tokens_fails_saying_so(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    model = anthropic(llama, max_tokens=3, temperature=0, params=GREEDY)
    result, _ = run_live(crew(tmp_path, model, schema=None), clean_env)
    assert result.tasks["t"].reason is not None
    assert result.tasks["t"].reason.startswith(
        "answer cut off at max_tokens 3 (finish_reason max_tokens)"
    )


def test_a_prompt_past_the_context_window_names_it_and_max_history_tokens(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    path = crew(tmp_path, openai(llama, max_tokens=16), schema=None)
    long_prompt = "Review account a-1. " + "The account history is long. " * 200
    text = path.read_text().replace("Review account a-1.", long_prompt)
    path.write_text(text)
    result, items = run_live(path, clean_env)
    assert len(calls(items)) == 1  # not retried
    reason = result.tasks["t"].reason or ""
    assert "400 context_overflow (exceed_context_size_error)" in reason
    assert f"the server's window of {LLAMA_CTX} tokens" in reason
    assert "lower limits.max_history_tokens" in reason


def test_history_trimming_counts_in_the_servers_tokens(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    """tiktoken counts this byte-level model's prompts at a fraction of what the server counts:
    before calibration, max_history_tokens let the third turn pass the server's window."""
    model = openai(llama, max_tokens=400, params=CALL_NOW)
    limits = {"max_turns": 3, "max_history_tokens": LLAMA_CTX - 64}
    path = crew(tmp_path, model, schema=None, tools="flag", limits=limits)
    _, items = run_live(path, clean_env)
    made = calls(items)
    assert [c["status"] for c in made] == ["ok", "ok", "ok"], made[-1].get("error")
    assert of_type(items, "history_trimmed")
    assert max(c["input_tokens"] for c in made) <= LLAMA_CTX


def test_a_500_that_blames_the_request_is_not_retried(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    """llama-server refuses its own `json_schema` beside a `grammar` with a 500 ("Cannot use
    both json_schema and grammar"): the same request would fail the same way every time."""
    params = {"grammar": 'root ::= "{}"', "json_schema": {"type": "object"}}
    model = openai(llama, max_tokens=16, params=params)
    result, items = run_live(crew(tmp_path, model, schema=None), clean_env)
    [call] = calls(items)  # before the fix: sent 3 times
    assert call["status"] == "error"
    reason = result.tasks["t"].reason or ""
    assert "500 bad_request" in reason, reason
    assert "Cannot use both json_schema and grammar" in reason


def test_n_predict_in_params_is_refused_since_the_server_takes_it_over_max_tokens(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    """llama-server reads its own `n_predict` before `max_tokens` (-1: until the context is
    full), so a crew passing it in `params` was billed past the cap every budget plans for."""
    body = {"model": "tiny", "max_tokens": 4, "n_predict": 40, "messages": [USER]}
    status, _, raw = post(llama.url + "/v1/chat/completions", {**body, **GREEDY})
    assert status == 200
    assert json.loads(raw)["usage"]["completion_tokens"] > 4  # the server's behaviour
    path = crew(tmp_path, openai(llama, max_tokens=4, params={"n_predict": 40}), schema=None)
    with pytest.raises(SpecError, match="n_predict would widen the output the budget plans"):
        load_crew(path)


def test_a_tool_call_cut_off_at_max_tokens_fails_saying_so(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    """At 40 tokens the server's grammar has opened the call and its arguments are `{`
    (finish_reason length). Before the fix the agent was told to send JSON and called again,
    cut again, until the history passed the server's window."""
    model = openai(llama, max_tokens=40, params=CALL_NOW)
    path = crew(tmp_path, model, schema=None, tools="flag", limits={"max_turns": 4})
    result, items = run_live(path, clean_env)
    [call] = calls(items)
    assert (call["finish_reason"], call["output_tokens"]) == ("length", 40)
    assert not of_type(items, "tool_call")
    assert (result.tasks["t"].reason or "").startswith(
        "answer cut off at max_tokens 40 in the arguments of flag (finish_reason length)"
    )


def test_an_answer_cut_off_by_the_context_window_says_so_not_max_tokens(
    llama: Server, tmp_path: Path, clean_env: Path
) -> None:
    """With the turn's end tokens banned, the answer runs until prompt and answer fill the
    server's 1024 tokens: finish_reason length, far under max_tokens 4096. Before the fix the
    advice was to raise max_tokens, which cannot help."""
    # <|endoftext|>, <|im_start|> and <|im_end|>, the control tokens up to END_TOKEN
    no_end = {"logit_bias": {str(t): -100 for t in range(END_TOKEN - 2, END_TOKEN + 1)}}
    path = crew(tmp_path, openai(llama, params={**no_end, **GREEDY}), schema=None)
    path.write_text(path.read_text().replace("Review account a-1.", "ab " * 200))
    result, items = run_live(path, clean_env)
    [call] = calls(items)
    assert call["finish_reason"] == "length"
    assert call["input_tokens"] + call["output_tokens"] == LLAMA_CTX
    reason = result.tasks["t"].reason or ""
    assert reason.startswith(
        f"answer cut off after {call['output_tokens']} tokens, under max_tokens 4096 "
        "(finish_reason length): the prompt and the answer filled the model's context window"
    ), reason
