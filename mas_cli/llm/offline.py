"""The offline model: deterministic, scriptable, no key and no network.

By default, on its first turn it calls each tool it holds once, with arguments drawn from the
prompt; then it answers, with JSON that satisfies the task's output_schema (reusing values from
tool results whose names match) or a short text built from the prompt and the results. An agent
with a `script:` plays those turns instead, and the model fails loudly when they run out.

Usage is counted from the actual prompt and answer text, framed as the configured model's API
frames them, with a rule that needs no tokenizer (cost.approx: within about 10% of o200k), so
an offline run estimates what the real model would have cost and builds no tokenizer.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from mas_cli.events.text import loads
from mas_cli.llm.delegation import DELEGATE
from mas_cli.llm.example_values import content_words, value_for
from mas_cli.llm.types import (
    Completion,
    LlmFailure,
    Message,
    ProviderOptions,
    Request,
    ToolCall,
)
from mas_cli.llm.usage import offline_usage
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.script import Script, ScriptTurn
from mas_cli.words import plural

RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class OfflineProvider:
    """A provider that answers from the request itself, or from per-agent scripts."""

    name = "offline"

    def __init__(self, model: ModelSpec, scripts: dict[str, Script] | None = None) -> None:
        self.model = model
        self.scripts = scripts or {}
        self._played: defaultdict[str, int] = defaultdict(int)

    async def aclose(self) -> None:
        """Nothing to release."""

    def skip_turns(self, agent: str, turns: int) -> None:
        """Move an agent's script on, for turns answered elsewhere (a resume's recording)."""
        if agent in self.scripts:
            self._played[agent] += turns

    async def complete(self, request: Request) -> Completion:
        """Answer one request, deterministically."""
        script = self.scripts.get(request.site.agent)
        await self._delay(request)
        message = self._scripted(request, script) if script else _default_answer(request)
        return Completion(
            message=message, usage=offline_usage(request, message), finish_reason=_finish(message)
        )

    def _scripted(self, request: Request, script: Script) -> Message:
        played = self._played[request.site.agent]
        self._played[request.site.agent] += 1
        if played >= len(script.turns) and not script.repeat:
            raise LlmFailure(
                f"the offline script of agent '{request.site.agent}' ran out "
                f"after {plural(played, 'turn')}",
                kind="script_exhausted",
                retryable=False,
                hint=f"add turns to agents.{request.site.agent}.script, or set repeat: true",
            )
        return _play(script.turns[played % len(script.turns)], played)

    async def _delay(self, request: Request) -> None:
        script = self.scripts.get(request.site.agent)
        played = self._played[request.site.agent]
        if script and (played < len(script.turns) or script.repeat):
            await asyncio.sleep(script.turns[played % len(script.turns)].delay_s)


def create(model: ModelSpec, options: ProviderOptions) -> OfflineProvider:
    """Registry factory."""
    return OfflineProvider(model, dict(options.scripts))


def _play(turn: ScriptTurn, played: int) -> Message:
    if turn.error is not None:
        raise LlmFailure(
            f"scripted failure: {turn.error.status} {turn.error.message}",
            kind="scripted",
            retryable=turn.error.status in RETRYABLE,
            status=turn.error.status,
            retry_after_s=turn.error.retry_after_s,
        )
    if turn.tool_calls is not None:
        calls = tuple(
            ToolCall(id=f"call_{played + 1}_{i}", name=c.name, arguments=dict(c.arguments))
            for i, c in enumerate(turn.tool_calls)
        )
        return Message(role="assistant", tool_calls=calls)
    text = turn.text if turn.text is not None else json.dumps(turn.data)
    return Message(role="assistant", content=text)


def _default_answer(request: Request) -> Message:
    prompt = _task_prompt(request)
    own = [t for t in request.tools if t.name != DELEGATE]
    if own and not any(m.role == "tool" for m in request.messages):
        calls = tuple(
            ToolCall(
                id=f"call_{request.site.turn}_{i}",
                name=t.name,
                arguments=_arguments(t.parameters, prompt),
            )
            for i, t in enumerate(own)
        )
        return Message(role="assistant", tool_calls=calls)
    delegation = _next_delegation(request)
    if delegation is not None:
        return Message(role="assistant", tool_calls=(delegation,))
    results = [m for m in request.messages if m.role == "tool"]
    if request.output_schema is not None:
        hints = _hints(results)
        return Message(
            role="assistant",
            content=json.dumps(value_for(request.output_schema, "", prompt, hints)),
        )
    return Message(role="assistant", content=_text_answer(request, prompt, results))


def _next_delegation(request: Request) -> ToolCall | None:
    """A manager delegates each task of its plan once, in order, to the suggested agent."""
    tool = next((t for t in request.tools if t.name == DELEGATE), None)
    done = sum(1 for m in request.messages if m.role == "tool" and m.name == DELEGATE)
    if tool is None or done >= len(request.plan):
        return None
    workers: list[str] = tool.parameters["properties"]["agent"]["enum"]
    line = request.plan[done]
    agent = line.agent if line.agent in workers else workers[0]
    arguments = {"agent": agent, "instruction": line.instruction, "task": line.task}
    return ToolCall(id=f"call_{request.site.turn}_0", name=DELEGATE, arguments=arguments)


def _task_prompt(request: Request) -> str:
    return next((m.content for m in request.messages if m.role == "user"), "")


def _arguments(parameters: dict[str, Any], prompt: str) -> dict[str, Any]:
    required = set(parameters.get("required", []))
    props: dict[str, Any] = parameters.get("properties", {})
    return {k: value_for(s, k, prompt, {}) for k, s in props.items() if k in required}


def _hints(results: list[Message]) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for message in results:
        try:
            _flatten(loads(message.content), hints)
        except ValueError:
            continue
    return hints


def _flatten(value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            into.setdefault(str(key), item)
            _flatten(item, into)
    elif isinstance(value, list):
        for item in value:
            _flatten(item, into)


def _text_answer(request: Request, prompt: str, results: list[Message]) -> str:
    words = " ".join(content_words(prompt)[:12])
    lines = [f"{request.site.agent or 'agent'} on: {words}"]
    lines += [f"- {m.name or 'tool'}: {' '.join(m.content.split())[:160]}" for m in results]
    return "\n".join(lines)


def _finish(message: Message) -> str:
    return "tool_calls" if message.tool_calls else "stop"
