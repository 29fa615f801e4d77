"""Our messages in the OpenAI chat shape: for token counts, and for the OpenAI provider."""

from __future__ import annotations

import json
from typing import Any

from mas_cli.llm.types import Message, ToolSchema


def openai_messages(system: str, messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The system prompt and conversation as chat-completions messages."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    return out + [_message(m) for m in messages]


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
    wire: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        wire["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in m.tool_calls
        ]
    return wire


def openai_tools(tools: tuple[ToolSchema, ...]) -> list[dict[str, Any]]:
    """Tool schemas as chat-completions function tools."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]
