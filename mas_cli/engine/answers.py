"""A final answer read the way users expect: a cut-off or empty answer is a failed turn, and
JSON is found inside a `<think>` block's aftermath, a fenced block or surrounding prose.

    unfinished(completion, model) -> "answer cut off at max_tokens 64 (finish_reason length): ..."
    extract_json('<think>…</think> ```json {"a": 1} ```') -> ('{"a": 1}', "<think> block, fence")
"""

from __future__ import annotations

import json
import re

from mas_cli.llm.types import Completion
from mas_cli.spec.model_spec import ModelSpec

CUT_OFF = frozenset({"length", "max_tokens", "model_context_window_exceeded"})
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>\s*", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
NOTE_CHARS = 120
MAX_CANDIDATES = 64  # JSON starts tried in prose: a hostile answer full of braces stays linear


def unfinished(completion: Completion, model: ModelSpec) -> str | None:
    """Why an answer cannot be used: cut off (text, or a tool call whose arguments the cap cut
    short, which the same cap would cut again), or empty; else None."""
    message, finish, usage = completion.message, completion.finish_reason, completion.usage
    # On Anthropic's wire, all of the cap written is a cut even when the finish says end_turn:
    # the LiteLLM proxy says so for an answer its OpenAI-compatible upstream stopped at the cap.
    cut = finish in CUT_OFF or (
        finish == "end_turn"
        and usage.source == "provider"
        and usage.output_tokens >= model.output_cap
    )
    if message.tool_calls:
        broken = [c.name for c in message.tool_calls if c.arguments_error]
        if not (cut and broken):
            return None
        return cut_off(completion, model, f" in the arguments of {broken[0]}")
    if cut:
        return cut_off(completion, model)
    if not _THINK.sub("", message.content).strip():
        return f"empty answer, finish_reason {finish}"
    return None


def cut_off(completion: Completion, model: ModelSpec, where: str = "") -> str:
    """Why the answer stopped short, and what to change: the output cap, or, when the server
    counted fewer output tokens than the cap, its context window (llama-server stops there with
    finish_reason length too, the prompt and the answer filling it)."""
    usage, finish, cap = completion.usage, completion.finish_reason, model.output_cap
    if finish not in CUT_OFF:
        return (
            f"answer cut off at max_tokens {cap}{where} (all {usage.output_tokens} tokens "
            f"written, though the server said finish_reason {finish}): raise max_tokens on the "
            "model, or ask for a shorter answer"
        )
    under_cap = usage.source == "provider" and usage.output_tokens < cap
    if finish == "model_context_window_exceeded" or under_cap:
        return (
            f"answer cut off after {usage.output_tokens} tokens{where}, under max_tokens {cap} "
            f"(finish_reason {finish}): the prompt and the answer filled the model's context "
            "window; lower limits.max_history_tokens, shorten the prompt, or start the server "
            "with a larger context"
        )
    return (
        f"answer cut off at max_tokens {cap}{where} (finish_reason {finish}): raise max_tokens "
        "on the model, or ask for a shorter answer"
    )


def extract_json(text: str) -> tuple[str, str | None]:
    """The JSON text of an answer, and what was stripped around it (None: nothing)."""
    stripped: list[str] = []
    body = _THINK.sub("", text)
    if body != text:
        stripped.append("a <think> block")
    fenced = _FENCE.search(body)
    if fenced and _is_json(fenced[1]):
        outside = (body[: fenced.start()] + body[fenced.end() :]).strip()
        stripped.append("a ``` fence" + (f" and prose {_short(outside)}" if outside else ""))
        return fenced[1].strip(), ", ".join(stripped)
    body = body.strip()
    if _is_json(body):
        return body, ", ".join(stripped) or None
    found = _json_in_prose(body)
    if found is None:
        return body, ", ".join(stripped) or None
    start, end = found
    prose = (body[:start] + " … " + body[end:]).strip(" …")
    stripped.append(f"prose {_short(prose)}")
    return body[start:end], ", ".join(stripped)


def _json_in_prose(text: str) -> tuple[int, int] | None:
    """The span of the first JSON object (or array) in the text that parses whole."""
    decoder = json.JSONDecoder()
    for tried, match in enumerate(re.finditer(r"[{\[]", text)):
        if tried >= MAX_CANDIDATES:
            return None
        try:
            _, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        return match.start(), end
    return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= NOTE_CHARS else flat[:NOTE_CHARS] + "…")
