"""Usage as each provider reports it, normalized to one meaning.

    input_tokens        every input token, cached ones included
    cache_read_tokens   part of input_tokens: read from the provider's prompt cache
    cache_write_tokens  part of input_tokens: written to it (Anthropic)
    output_tokens       every output token, reasoning included
    reasoning_tokens    part of output_tokens

OpenAI's `prompt_tokens` already includes `prompt_tokens_details.cached_tokens`; Anthropic's
`input_tokens` excludes `cache_read_input_tokens` and `cache_creation_input_tokens`, so they
are added. The provider's own usage object is kept as `raw`. A server that reports no usage
(some OpenAI-compatible ones), or counts that are not counts (negative, past MAX_TOKENS, not
finite, text, an input or output count missing), gets an estimate from the tokenizer, marked
as such: never a zero that a budget would take at its word. A count written as a float
(`1000.0`) is a count, rounded up. An OpenAI-shaped usage with more cached tokens than prompt
tokens left the cache reads out of its prompt count (Anthropic's way, as some proxies
translate it): they are added. No input at all is no count either: every request sends at
least one token, and the LiteLLM proxy fills in zeros for a server that reported no usage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from mas_cli import records
from mas_cli.cost.tokens import (
    TokenCount,
    count_messages,
    count_messages_approx,
    count_text,
    count_text_approx,
)
from mas_cli.events.counts import MAX_TOKENS
from mas_cli.llm.convert import openai_messages, openai_tools
from mas_cli.llm.types import Message, Request, Usage


class _NotACount(ValueError):
    """A usage field that is there but holds no token count."""


def openai_usage(raw: Any) -> Usage | None:
    """Chat-completions usage; None when the response has none, or none that reads."""
    if not isinstance(raw, dict):
        return None
    try:
        prompt = _count(raw, "prompt_tokens", required=True)
        output = _count(raw, "completion_tokens", required=True)
        cached = _count(_part(raw, "prompt_tokens_details"), "cached_tokens")
        reasoning = _count(_part(raw, "completion_tokens_details"), "reasoning_tokens")
    except _NotACount:
        return None
    if prompt + cached == 0:  # every request sends a token: zeros are a usage nobody counted
        return None
    return Usage(
        input_tokens=prompt + cached if cached > prompt else prompt,
        output_tokens=output,
        cache_read_tokens=cached,
        reasoning_tokens=min(reasoning, output),
        source="provider",
        raw=raw,
    )


def anthropic_usage(raw: Any) -> Usage | None:
    """Messages usage; None when the response has none, or none that reads."""
    if not isinstance(raw, dict):
        return None
    try:
        fresh = _count(raw, "input_tokens", required=True)
        output = _count(raw, "output_tokens", required=True)
        read = _count(raw, "cache_read_input_tokens")
        write = _count(raw, "cache_creation_input_tokens")
    except _NotACount:
        return None
    if fresh + read + write == 0:
        return None
    return Usage(
        input_tokens=fresh + read + write,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        source="provider",
        raw=raw,
    )


def estimated_usage(request: Request, message: Message, raw: Any = None) -> Usage:
    """Tokens counted from the request and the answer with the model's tokenizer; `raw`, the
    usage the server reported that could not be read, is kept for audits."""
    usage = _usage(request, message, count_messages, count_text)
    return records.replace(usage, raw=raw) if isinstance(raw, dict) else usage


def offline_usage(request: Request, message: Message) -> Usage:
    """The offline model's usage: the same texts as estimated_usage, counted without a
    tokenizer (cost.approx), so an offline run builds none."""
    return _usage(request, message, count_messages_approx, count_text_approx)


def _usage(
    request: Request,
    message: Message,
    count_prompt: Callable[[list[dict[str, Any]], str, list[dict[str, Any]] | None], TokenCount],
    count_answer: Callable[[str, str], TokenCount],
) -> Usage:
    model = request.model.model
    messages = openai_messages(request.system, request.messages)
    prompt = count_prompt(messages, model, openai_tools(request.tools) or None)
    answer = message.content + "".join(c.name + json.dumps(c.arguments) for c in message.tool_calls)
    return Usage(
        input_tokens=prompt.tokens,
        output_tokens=count_answer(answer, model).tokens,
        source="estimate",
    )


def _part(raw: dict[str, Any], key: str) -> dict[str, Any]:
    part = raw.get(key)
    return part if isinstance(part, dict) else {}


def _count(raw: dict[str, Any], key: str, *, required: bool = False) -> int:
    """A token count: absent (or null) is 0 unless required; anything but a number from 0 to
    MAX_TOKENS is no count at all (a log holding it would not be read back)."""
    value = raw.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _NotACount(key)
    if not 0 <= value <= MAX_TOKENS:
        raise _NotACount(key)
    return value if isinstance(value, int) else math.ceil(value)
