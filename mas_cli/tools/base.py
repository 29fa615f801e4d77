"""What every tool kind shares: the result record, the Tool protocol, argument checks, caps."""

from __future__ import annotations

import contextvars
import copy
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from msgspec import Struct

from mas_cli import records
from mas_cli.events.jsonsafe import refusal
from mas_cli.events.text import fix_text

if TYPE_CHECKING:  # the crew models and jsonschema: not for `mas cache stats` (tools.cache)
    from mas_cli.spec.models import JsonSchema, ToolSpec

IDEMPOTENCY_PARAM = "idempotency_key"
"""A function tool that declares a parameter of this name gets a side_effect call's key there
(it is not shown to the model)."""
IDEMPOTENCY_ENV = "MAS_IDEMPOTENCY_KEY"
"""A command tool gets a side_effect call's key in this environment variable."""
IDEMPOTENCY_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mas_idempotency_key", default=None
)
"""The key of the side_effect call being made, set by the engine around `Tool.call`."""


class ToolResult(Struct, frozen=True):
    """The outcome of one tool call; a call never raises for the tool's own faults."""

    ok: bool
    """False for an error, a timeout, or bad arguments."""
    output: str
    """What goes back to the model; on failure, the error text the model should see."""
    error: str | None = None
    """Short error description (None when ok)."""
    traceback: str | None = None
    """The tool's own traceback when a function raised (for `mas tool-test`)."""
    latency_s: float = 0.0
    timed_out: bool = False
    truncated: bool = False
    """The output was cut at max_output_bytes."""
    exit_code: int | None = None
    """Command tools: the process's exit status (negative: killed by that signal)."""
    fatal: bool = False
    """The tool cannot be used again (an MCP server that died after its restart): the task
    that called it fails with the error."""


class Tool(Protocol):
    """A callable tool as agents see it. Read-only properties, so frozen records satisfy it."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> ToolSpec: ...

    @property
    def description(self) -> str:
        """spec.description, else the function docstring's first paragraph."""
        ...

    @property
    def parameters(self) -> JsonSchema:
        """A JSON Schema object: type, properties, required, additionalProperties."""
        ...

    def fingerprint(self) -> str:
        """sha256 hex of what determines the output besides the arguments, plus spec.version.

        Never environment values or timeouts: this is part of the cache key.
        """
        ...

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Run the tool. Every failure (bad arguments, error, timeout) is a result, not a raise."""
        ...


@dataclass(frozen=True)
class WrappedTool:
    """A tool that is another tool as models and the cache see it; subclasses change `call`."""

    inner: Tool

    @property
    def name(self) -> str:
        """The wrapped tool's name."""
        return self.inner.name

    @property
    def spec(self) -> ToolSpec:
        """The wrapped tool's spec."""
        return self.inner.spec

    @property
    def description(self) -> str:
        """The wrapped tool's description, as the model sees it."""
        return self.inner.description

    @property
    def parameters(self) -> JsonSchema:
        """The wrapped tool's parameters."""
        return self.inner.parameters

    def fingerprint(self) -> str:
        """The wrapped tool's fingerprint."""
        return self.inner.fingerprint()

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        """The wrapped tool's call."""
        return await self.inner.call(arguments)


def object_schema(
    properties: Mapping[str, JsonSchema], required: list[str], *, extra: bool = False
) -> JsonSchema:
    """The full parameters schema around per-argument schemas."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": required,
        "additionalProperties": extra,
    }


def schema_from_spec(parameters: Mapping[str, JsonSchema]) -> JsonSchema:
    """`parameters:` from the crew file: each argument is required unless it has a default."""
    required = [name for name, schema in parameters.items() if "default" not in schema]
    return object_schema(parameters, required)


def check_arguments(tool: Tool, arguments: dict[str, Any]) -> list[str]:
    """One message per bad, missing or unknown argument, e.g. "query: required"; [] when valid."""
    return argument_problems(tool.parameters, arguments)


def argument_problems(schema: JsonSchema, arguments: dict[str, Any]) -> list[str]:
    """As check_arguments, against a parameters schema."""
    properties = schema.get("properties", {})
    messages = [f"{name}: required" for name in schema.get("required", []) if name not in arguments]
    if bad := refusal(arguments):
        messages.append(bad)
    if schema.get("additionalProperties") is False:
        known = ", ".join(properties) or "none"
        messages += [
            f"{name}: unknown argument (expected: {known})"
            for name in arguments
            if name not in properties
        ]
    from mas_cli.spec.patterns import schema_validator  # jsonschema: loaded by a run anyway

    # Top-level `required` and `additionalProperties` are reported above, one line per field.
    errors = schema_validator(schema).iter_errors(arguments)
    messages += [
        f"{_where(err.absolute_path)}: {err.message}"
        for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])
        if err.absolute_path or err.validator not in ("required", "additionalProperties")
    ]
    return messages


def _where(path: Any) -> str:
    """deque(["items", 0, "id"]) -> "items[0].id"."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else f".{step}" if out else str(step)
    return out or "(arguments)"


def with_defaults(parameters: JsonSchema, arguments: dict[str, Any]) -> dict[str, Any]:
    """A copy of the arguments with each absent top-level default filled in."""
    filled = dict(arguments)
    for name, schema in parameters.get("properties", {}).items():
        if name not in filled and isinstance(schema, dict) and "default" in schema:
            filled[name] = copy.deepcopy(schema["default"])
    return filled


async def checked_call(
    tool: Tool, arguments: dict[str, Any], run: Callable[[dict[str, Any]], Awaitable[ToolResult]]
) -> ToolResult:
    """Validate, fill defaults, run, and time the call; bad arguments never reach the tool."""
    started = time.perf_counter()
    problems = check_arguments(tool, arguments)
    if problems:
        error = "bad arguments: " + "; ".join(problems)
        return ToolResult(
            ok=False, output=f"error: {error}. Fix the arguments and call again.", error=error
        )
    result = await run(with_defaults(tool.parameters, arguments))
    return records.replace(
        result,
        output=fix_text(result.output),
        error=result.error and fix_text(result.error),
        traceback=result.traceback and fix_text(result.traceback),
        latency_s=time.perf_counter() - started,
    )


def timed_out(timeout_s: float, **extra: Any) -> ToolResult:
    """The result of a call abandoned at its timeout."""
    error = f"timed out after {timeout_s:g}s"
    return ToolResult(ok=False, output=f"error: {error}", error=error, timed_out=True, **extra)


CUT_SAID = "\n[output cut at "
"""What follows a tool's output cut at max_output_bytes."""


def cap_output(data: bytes, max_bytes: int, total: int | None = None) -> tuple[str, bool]:
    """Decode at most max_bytes of output; a cut is said at the end of the text.

    `total` is the full size when the caller has already dropped what was past the cap.
    """
    total = len(data) if total is None else total
    if total <= max_bytes:
        return data.decode("utf-8", errors="replace"), False
    # errors="ignore" drops a character split by the cut instead of showing a replacement mark.
    text = data[:max_bytes].decode("utf-8", errors="ignore")
    return f"{text}{CUT_SAID}{max_bytes} bytes of {total}]", True


def parts_digest(*parts: str | bytes) -> str:
    """sha256 hex over parts, each length-prefixed so ("ab", "c") and ("a", "bc") differ."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()
