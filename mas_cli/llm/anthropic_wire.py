"""The Anthropic messages wire format: our request as a body, a response body as ours.

Tool calls are `tool_use` blocks in the assistant's content; their results go back as
`tool_result` blocks in one user message. The system prompt is a top-level field. With
`prompt_caching`, the system prompt and the last tool carry `cache_control`, so the whole
stable prefix (tools, then system) is cached.
"""

from __future__ import annotations

from typing import Any

from mas_cli.llm.faults import Malformed
from mas_cli.llm.openai_wire import parse_arguments
from mas_cli.llm.types import Completion, Message, Request, ToolCall, ToolSchema
from mas_cli.llm.usage import anthropic_usage, estimated_usage

CACHE = {"type": "ephemeral"}


def request_body(request: Request) -> dict[str, Any]:
    """The messages body; the model's `params` go in last (they cannot widen max_tokens)."""
    model = request.model
    caching = model.prompt_caching
    body: dict[str, Any] = {
        "model": model.model,
        "max_tokens": model.output_cap,
        "messages": anthropic_messages(request.messages),
    }
    if request.system:
        block = {"type": "text", "text": request.system}
        body["system"] = [{**block, "cache_control": CACHE}] if caching else request.system
    if request.tools:
        body["tools"] = anthropic_tools(request.tools, caching=caching)
    if model.temperature is not None:
        body["temperature"] = model.temperature
    return {**body, **model.params}


def anthropic_tools(
    tools: tuple[ToolSchema, ...], *, caching: bool = False
) -> list[dict[str, Any]]:
    """Tool schemas as Anthropic tools; with caching, the last one marks the cache breakpoint."""
    wire = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]
    if caching and wire:
        wire[-1] = {**wire[-1], "cache_control": CACHE}
    return wire


def anthropic_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The conversation, with consecutive same-role turns merged (the API wants alternation)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if out and out[-1]["role"] == role:
            out[-1]["content"] += blocks
        else:
            out.append({"role": role, "content": blocks})
    return out


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        block = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.content,
        }
        return [{**block, "is_error": True} if message.is_error else block]
    blocks: list[dict[str, Any]] = (
        [{"type": "text", "text": message.content}] if message.content else []
    )
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
        for c in message.tool_calls
    ]
    return blocks or [{"type": "text", "text": "(no answer)"}]


def parse_message(data: Any, request: Request) -> Completion:
    """A response body as a Completion.

    Raises:
        Malformed: no content list, or blocks of the wrong shape.
    """
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise Malformed("no content list")
    texts, calls = [], []
    for i, block in enumerate(data["content"]):
        if not isinstance(block, dict):
            raise Malformed(f"content[{i}] is not an object")
        if block.get("type") == "text":
            texts.append(_text(block, i))
        elif block.get("type") == "tool_use":
            calls.append(_tool_use(block, i))
    message = Message(role="assistant", content="".join(texts), tool_calls=tuple(calls))
    raw = data.get("usage")
    return Completion(
        message=message,
        usage=anthropic_usage(raw) or estimated_usage(request, message, raw),
        finish_reason=_str(data.get("stop_reason")) or ("tool_use" if calls else "end_turn"),
        response_model=_str(data.get("model")),
    )


def _text(block: dict[str, Any], index: int) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise Malformed(f"content[{index}].text is not a string")
    return text


def _tool_use(block: dict[str, Any], index: int) -> ToolCall:
    call_id, name = block.get("id"), block.get("name")
    if not isinstance(call_id, str) or not isinstance(name, str) or not name:
        raise Malformed(f"content[{index}] (tool_use) has no id or name")
    arguments, problem = parse_arguments(block.get("input"))
    return ToolCall(id=call_id, name=name, arguments=arguments, arguments_error=problem)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
