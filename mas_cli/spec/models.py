"""The crew file as pydantic models: every section, every field documented, unknown keys refused.

Field docstrings are the reference for users, so each one says what the field does in one
line. They are not loaded into pydantic (`use_attribute_docstrings` reads every class's source
with `inspect` and `ast`: about a third of importing these models, for descriptions nothing reads).
The `models:`, `prices:` and `rate_limits:` sections live in `model_spec`.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from mas_cli.spec.base import MAX_WHOLE, Spec
from mas_cli.spec.mcp import McpServerSpec
from mas_cli.spec.model_spec import (
    ModelSpec,
    PriceSpec,
    RateLimit,
    _model_value,
    parse_model_shorthand,
)
from mas_cli.spec.script import Script

JsonSchema = dict[str, Any]
ToolKind = Literal["deterministic", "live", "side_effect"]


def _kind_shape(value: Any) -> str:
    return "per_tool" if isinstance(value, dict) else "one"


# One kind, or (MCP) one per tool; tagged, so a bad value is reported once, in its own shape.
ToolKinds = Annotated[
    Annotated[ToolKind, Tag("one")] | Annotated[dict[str, ToolKind], Tag("per_tool")],
    Discriminator(_kind_shape),
]
Process = Literal["sequential", "parallel", "hierarchical"]
MCP_UNUSED = ("description", "parameters", "env")
"""An MCP server describes its own tools; its variables go under `mcp: {env: ...}`."""
INLINE_MANAGER = "manager"
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
MANAGER_TASK = "manage"  # the id of a hierarchical crew's manager conversation


class InputSpec(Spec):
    """A value the crew is run with, named in prompts as `{name}`."""

    description: str = ""
    """What the input is, shown by `mas validate` and in usage errors."""
    default: Any = None
    """Value used when the run does not give one."""
    required: bool | None = None
    """Refuse to run without a value. When absent: required unless there is a default, so a
    forgotten value is an error rather than an empty string in a prompt."""

    def is_required(self) -> bool:
        """Whether a run must be given a value (`required`, else: no default)."""
        return self.default is None if self.required is None else self.required

    @field_validator("default", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 2026-12-05 as a date; an input is text, as it was written.
        return value.isoformat() if isinstance(value, date) else value


class Limits(Spec):
    """Guard rails. Every field has a safe default; agents may tighten some of them."""

    max_turns: int = Field(default=10, gt=0, le=MAX_WHOLE)
    """Model calls one agent may make on one task."""
    max_llm_calls: int = Field(default=100, gt=0, le=MAX_WHOLE)
    """Model calls in the whole run, retries included: the circuit breaker."""
    max_tool_calls: int = Field(default=200, gt=0, le=MAX_WHOLE)
    """Tool calls in the whole run."""
    max_tokens: int = Field(default=1_000_000, gt=0, le=MAX_WHOLE)
    """Tokens (input plus output) the whole run may spend."""
    max_cost_usd: float = Field(default=5.0, gt=0)
    """Dollars the whole run may spend; a call that could pass it is refused before it is made."""
    run_timeout_s: float = Field(default=1800, gt=0)
    """Wall time for the whole run."""
    task_timeout_s: float = Field(default=600, gt=0)
    """Wall time for one task."""
    llm_timeout_s: float = Field(default=120, gt=0)
    """Wall time for one model call."""
    max_identical_tool_calls: int = Field(default=3, gt=0, le=MAX_WHOLE)
    """Calls of the same tool with the same arguments within one task."""
    max_retries: int = Field(default=3, ge=0, le=MAX_WHOLE)
    """Retries of a failed model call (429, 5xx, timeouts)."""
    retry_backoff_s: float = Field(default=1.0, ge=0)
    """The first retry waits up to this long (full jitter), doubling each time, at most 60 s."""
    max_retry_wait_s: float = Field(default=60, gt=0, allow_inf_nan=False)
    """The longest wait a server may ask for before a retry; past it (or past the run's time
    left) the call gives up at once, saying what the server asked."""
    max_history_tokens: int = Field(default=100_000, gt=0, le=MAX_WHOLE)
    """Conversation size past which the oldest tool exchanges are dropped."""
    max_concurrency: int = Field(default=4, gt=0, le=MAX_WHOLE)
    """Tasks running at once in a parallel crew."""
    max_delegations: int = Field(default=10, gt=0, le=MAX_WHOLE)
    """Hierarchical crews: delegations in the whole run."""
    max_delegation_depth: int = Field(default=2, gt=0, le=MAX_WHOLE)
    """Hierarchical crews: how deep delegations may nest (the manager's own are depth 1)."""
    max_identical_delegations: int = Field(default=1, gt=0, le=MAX_WHOLE)
    """Hierarchical crews: the same worker given the same instruction, this many times at most."""

    # The limits that bound spend and time: left unset, `mas validate` says which defaults apply.
    BUDGET_FIELDS: ClassVar[tuple[str, ...]] = (
        "max_llm_calls",
        "max_tokens",
        "max_cost_usd",
        "run_timeout_s",
    )


class ToolSpec(Spec):
    """A tool agents can call: a Python function, a command run without a shell, or the tools
    of an MCP server (see spec.mcp)."""

    function: str | None = None
    """`file.py:func` (relative to the crew file) or `package.module:func`."""
    command: list[str] | None = Field(default=None, min_length=1)
    """argv with `{param}` placeholders, run without a shell; `python` means mas's own Python."""
    description: str = ""
    """What the tool does, for the model; a function's docstring when absent."""
    mcp: McpServerSpec | None = None
    """An MCP server (stdio `command:` or `url:`) whose tools agents name as `server.tool`."""
    include: list[str] | None = None
    """MCP: the server's tools agents may hold (default: every tool it offers)."""
    parameters: dict[str, JsonSchema] | None = None
    """JSON Schema of each argument; required unless it has a default. From type hints if absent."""
    kind: ToolKinds = "live"
    """`deterministic` outputs are cached on disk; `live` and `side_effect` never are. MCP: one
    kind for all the server's tools, or one per tool (`{read_file: deterministic}`)."""
    deterministic: bool | None = None
    """Shorthand: `deterministic: true` is `kind: deterministic`."""
    idempotent: bool = False
    """side_effect tools: the tool honours its idempotency key (a second call with the same key
    does nothing more), so `mas resume` may call it again when a call's outcome is unknown."""
    timeout_s: float = Field(default=30, gt=0)
    """Wall time for one call; past it the call is abandoned (a command's process group killed)."""
    cache_ttl_s: float | None = Field(default=None, gt=0)
    """How long a cached output stays valid; forever when absent."""
    version: str | None = None
    """Bump to invalidate cached outputs when the tool's behaviour changes outside its code."""
    max_output_bytes: int = Field(default=1_000_000, gt=0, le=MAX_WHOLE)
    """Output past this size is cut, and the cut is said in the result."""
    examples: list[dict[str, Any]] = []
    """Argument sets that `mas tool-test --all` runs."""
    env: list[str] = []
    """Command tools: variables passed from mas's environment besides the allow-list (PATH, HOME,
    LANG, ...); never a model's key variable."""

    @model_validator(mode="after")
    def _one_implementation(self) -> ToolSpec:
        given = [f for f in ("function", "command", "mcp") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `function:`, `command:` or `mcp:`")
        if self.deterministic is not None and "kind" in self.model_fields_set:
            raise ValueError("give `kind:` or `deterministic:`, not both")
        if self.mcp is None and (self.include is not None or isinstance(self.kind, dict)):
            raise ValueError("`include:` and a kind per tool are for an `mcp:` server")
        if self.mcp is not None:
            unused = [f for f in MCP_UNUSED if f in self.model_fields_set]
            if unused:
                raise ValueError(f"`{unused[0]}:` does not apply to an `mcp:` server (it says)")
        return self

    @field_validator("env")
    @classmethod
    def _variable_names(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not re.fullmatch(ENV_NAME, n)]
        if bad:
            raise ValueError(f"'{bad[0]}' is not a variable name (letters, digits and _)")
        return names

    @property
    def effective_kind(self) -> ToolKind:
        """The kind after the `deterministic:` shorthand is applied (MCP: of an unnamed tool)."""
        return self.kind_of("")

    def kind_of(self, tool: str) -> ToolKind:
        """The kind of one of an MCP server's tools (of this tool, for the others)."""
        if self.deterministic is not None:
            return "deterministic" if self.deterministic else "live"
        if isinstance(self.kind, dict):
            return self.kind.get(tool, "live")
        return self.kind


class AgentSpec(Spec):
    """An agent: who it is, which model it thinks with, which tools it holds."""

    role: str
    """Who the agent is, the first line of its system prompt."""
    goal: str = ""
    """What it is trying to achieve."""
    backstory: str = ""
    """Context that shapes how it works."""
    instructions: str = ""
    """Explicit instructions, appended to the system prompt."""
    model: str
    """A name under `models:`, or a shorthand such as `openai:gpt-4o-mini` or `offline`."""
    tools: list[str] = []
    """Names under `tools:` this agent may call."""
    allow_delegation: bool = False
    """Hierarchical crews: this agent may delegate to others."""
    max_turns: int | None = Field(default=None, gt=0, le=MAX_WHOLE)
    """Overrides limits.max_turns for this agent."""
    max_tokens: int | None = Field(default=None, gt=0, le=MAX_WHOLE)
    """Tokens this agent may spend in the run."""
    max_cost_usd: float | None = Field(default=None, gt=0)
    """Dollars this agent may spend in the run."""
    max_llm_calls: int | None = Field(default=None, gt=0, le=MAX_WHOLE)
    """Model calls this agent may make in the run."""
    script: Script | None = None
    """Offline model only: the turns this agent plays instead of the default behaviour."""


class TaskSpec(Spec):
    """A unit of work: one agent, one prompt, optionally a validated JSON output."""

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    """Unique name; other prompts refer to this task's output as `{id}`."""
    agent: str | None = None
    """The agent that does the task (a hierarchical crew's manager assigns it when absent)."""
    prompt: str
    """What to do, with `{input}`, `{task_id}` and `{state_key}` placeholders."""
    expected_output: str = ""
    """What a good answer looks like, appended to the prompt."""
    depends_on: list[str] = []
    """Tasks that must finish first (parallel crews schedule by these)."""
    output_schema: JsonSchema | None = None
    """JSON Schema the final answer must satisfy; the agent is re-asked when it does not."""
    writes: dict[str, str] = {}
    """Output field -> state key, written when the output validates (a list: the same names)."""
    max_retries: int = Field(default=2, ge=0, le=MAX_WHOLE)
    """Re-asks after an answer fails output_schema validation."""

    @field_validator("writes", mode="before")
    @classmethod
    def _writes_list(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return {item: item for item in value}
        return value


class TriageSpec(Spec):
    """Thresholds for `mas triage loops` on this crew's logs; an unset one keeps its default."""

    turns: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """Turns of one agent on one task (default 5)."""
    invocations_per_minute: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """Invocations of one agent within one minute (default 10)."""
    repeated_calls: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """Calls of the same tool with the same arguments in one trace (default 3)."""
    repeated_failures: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """The same call failing the same way in one trace (default 3)."""
    ping_pong: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """Steps of an alternation between two agents or two tool calls (default 6)."""
    monologue: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """The same model output this many times running (default 3)."""
    growth_turns: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """Turns before a steady rise of input tokens is judged (default 5)."""
    growth_tokens: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """Input tokens added per turn, at least, for a rise to count (default 500)."""
    context_window: int | None = Field(default=None, ge=0, le=MAX_WHOLE)
    """The models' context window in tokens (default: known models' own, else 128,000)."""


class CrewSpec(Spec):
    """A whole crew file."""

    name: str = Field(min_length=1)
    """The crew's name, shown in run lists and reports."""
    description: str = ""
    """What the crew is for."""
    process: Process = "sequential"
    """`sequential` (file order), `parallel` (a depends_on DAG) or `hierarchical` (a manager)."""
    manager: str | AgentSpec | None = None
    """Hierarchical crews: the agent (a name under agents:, or inline) that delegates."""
    inputs: dict[str, InputSpec] = {}
    """Values the crew is run with."""
    models: dict[str, ModelSpec] = {}
    """Named models; a string value is a shorthand such as `openai:gpt-4o-mini`."""
    limits: Limits = Limits()
    """Crew-wide guard rails."""
    prices: dict[str, PriceSpec] = {}
    """Per model (its provider name, or its key under models:): dollars per million tokens."""
    rate_limits: dict[str, RateLimit] = {}
    """Per provider (`openai`) or per model name: requests and tokens per minute."""
    state: dict[str, JsonSchema] = {}
    """The shared-state schema: one JSON Schema per key."""
    tools: dict[str, ToolSpec] = {}
    """Tools agents may call."""
    agents: dict[str, AgentSpec] = Field(min_length=1)
    """The agents, by name."""
    tasks: list[TaskSpec] = Field(min_length=1)
    """The work, in file order."""
    triage: TriageSpec = TriageSpec()
    """Thresholds for `mas triage loops` on this crew's logs."""

    @field_validator("models", mode="before")
    @classmethod
    def _model_shorthands(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: _model_value(v) if isinstance(v, str) else v for k, v in value.items()}

    @field_validator("inputs", mode="before")
    @classmethod
    def _input_shorthands(cls, value: Any) -> Any:
        # `topic: "default text"` is an input with that default.
        if not isinstance(value, dict):
            return value
        return {
            k: {} if v is None else v if isinstance(v, dict) else {"default": v}
            for k, v in value.items()
        }

    def model_for(self, reference: str) -> ModelSpec | None:
        """The model an agent names: a key under models:, or a shorthand."""
        if reference in self.models:
            return self.models[reference]
        shorthand = parse_model_shorthand(reference)
        return ModelSpec.model_validate(shorthand) if shorthand else None

    @property
    def manager_name(self) -> str | None:
        """The manager's agent name; an inline manager is called `manager`."""
        if isinstance(self.manager, AgentSpec):
            return INLINE_MANAGER
        return self.manager

    def agent(self, name: str) -> AgentSpec:
        """An agent by name, the inline manager included."""
        if name == INLINE_MANAGER and isinstance(self.manager, AgentSpec):
            return self.manager
        return self.agents[name]

    def workers_of(self, agent: str) -> list[str]:
        """Who this agent may delegate to: none outside hierarchical crews or without permission."""
        if self.process != "hierarchical":
            return []
        if agent != self.manager_name and not self.agent(agent).allow_delegation:
            return []
        return [name for name in self.all_agents() if name != agent]

    def all_agents(self) -> dict[str, AgentSpec]:
        """Every agent by name, the inline manager included."""
        inline = {INLINE_MANAGER: self.manager} if isinstance(self.manager, AgentSpec) else {}
        return {**self.agents, **inline}

    def task(self, task_id: str) -> TaskSpec:
        """The task with this id (the spec's checks guarantee ids are unique and present)."""
        return self._tasks_by_id[task_id]

    @cached_property
    def _tasks_by_id(self) -> dict[str, TaskSpec]:
        return {t.id: t for t in self.tasks}
