"""The OpenAI chat-completions wire format: our request as a body, a response body as ours.

Pure functions, no SDK: the provider sends the body through `AsyncOpenAI` and hands the raw
response bytes here, so a malformed body is a clear error instead of a half-built object.
"""

from __future__ import annotations

import json
from typing import Any

from mas_cli.events.jsonsafe import refusal
from mas_cli.events.text import loads
from mas_cli.llm.convert import openai_messages, openai_tools
from mas_cli.llm.faults import Malformed
from mas_cli.llm.types import Completion, Message, Request, ToolCall
from mas_cli.llm.usage import estimated_usage, openai_usage


def request_body(request: Request) -> dict[str, Any]:
    """The chat-completions body; the model's `params` go in last (they cannot widen the cap)."""
    model = request.model
    body: dict[str, Any] = {
        "model": model.model,
        "messages": openai_messages(request.system, request.messages),
    }
    if request.tools:
        body["tools"] = openai_tools(request.tools)
    if request.output_schema is not None and not request.tools:
        # Not with tools: servers turn response_format into a grammar that silences tool calls
        # (llama.cpp); the schema is in the prompt and the answer is validated either way.
        response_format = structured_output(request.output_schema, model.structured_output)
        body.update({"response_format": response_format} if response_format else {})
    if model.temperature is not None:
        body["temperature"] = model.temperature
    # Always capped, so no call outspends the budget's plan. OpenAI's own API wants
    # max_completion_tokens (its reasoning models refuse max_tokens); OpenAI-compatible servers
    # (Ollama, vLLM, llama.cpp) know max_tokens.
    body["max_tokens" if model.base_url else "max_completion_tokens"] = model.output_cap
    return {**body, **model.params}


def structured_output(schema: dict[str, Any], mode: str = "json_schema") -> dict[str, Any] | None:
    """response_format for a task's output_schema in the model's mode (None for `none`). Not
    strict: strict mode refuses many schemas (optional properties, open objects), and the
    engine validates every answer anyway."""
    if mode == "json_object":
        return {"type": "json_object"}
    if mode == "none":
        return None
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def parse_completion(data: Any, request: Request) -> Completion:
    """A response body as a Completion.

    Raises:
        Malformed: no choices, no message, or fields of the wrong type.
    """
    choice = _first_choice(data)
    wire = _dict(choice.get("message"), "choices[0].message")
    message = Message(
        role="assistant", content=_content(wire), tool_calls=_tool_calls(wire, request.site.turn)
    )
    raw = data.get("usage")
    usage = openai_usage(raw) or estimated_usage(request, message, raw)
    finish = choice.get("finish_reason")
    model = data.get("model")
    return Completion(
        message=message,
        usage=usage,
        finish_reason=finish if isinstance(finish, str) else _finish(message),
        response_model=model if isinstance(model, str) else None,
    )


def _first_choice(data: Any) -> dict[str, Any]:
    body = _dict(data, "the body")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise Malformed("no choices")
    return _dict(choices[0], "choices[0]")


def _content(wire: dict[str, Any]) -> str:
    content = wire.get("content")
    if content is None:
        refusal = wire.get("refusal")
        return f"(refused) {refusal}" if isinstance(refusal, str) else ""
    if not isinstance(content, str):
        raise Malformed("choices[0].message.content is not a string")
    return content


def _tool_calls(wire: dict[str, Any], turn: int) -> tuple[ToolCall, ...]:
    calls = wire.get("tool_calls") or []
    if not isinstance(calls, list):
        raise Malformed("choices[0].message.tool_calls is not a list")
    return tuple(
        _tool_call(c, f"choices[0].message.tool_calls[{i}]", turn, i) for i, c in enumerate(calls)
    )


def _tool_call(call: Any, where: str, turn: int, index: int) -> ToolCall:
    function = _dict(_dict(call, where).get("function"), f"{where}.function")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise Malformed(f"{where}.function.name is missing")
    call_id = call.get("id")
    # Some OpenAI-compatible servers send no id; the conversation needs one to answer the call.
    call_id = call_id if isinstance(call_id, str) and call_id else f"call_{turn}_{index}"
    arguments, problem = parse_arguments(function.get("arguments"))
    return ToolCall(id=call_id, name=name, arguments=arguments, arguments_error=problem)


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments as a dict, or {} and what is wrong (the agent is told, and may retry).

    NaN and Infinity are not JSON: arguments holding one are refused, and never echoed back.
    """
    if isinstance(raw, dict):
        bad = refusal(raw)
        return ({}, f"arguments: {bad}") if bad else (raw, None)
    if raw is None or raw == "":
        return {}, None
    if not isinstance(raw, str):
        return {}, f"arguments are a {type(raw).__name__}, not a JSON string"
    try:
        value = loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"{exc.msg} at column {exc.colno} in {raw[:80]!r}"
    if not isinstance(value, dict):
        return {}, f"arguments are JSON but not an object: {raw[:80]!r}"
    return parse_arguments(value)


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{where} is not an object")
    return value


def _finish(message: Message) -> str:
    return "tool_calls" if message.tool_calls else "stop"
