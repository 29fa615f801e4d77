"""What `mas validate` says of one crew file: its problems, or a compact summary of the crew."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msgspec import Struct

from mas_cli.errors import MasError, Problem, SpecError
from mas_cli.records import asdict
from mas_cli.spec import graph
from mas_cli.spec.loader import Crew, load_crew
from mas_cli.spec.models import CrewSpec, ToolSpec


class CrewSummary(Struct, frozen=True):
    """The crew at a glance: who, what, in which order, with which tools, models and limits."""

    name: str
    process: str
    inputs: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    models: list[dict[str, Any]]
    limits: dict[str, Any]
    defaulted_limits: list[str]


@dataclass(frozen=True)
class Validation:
    """The outcome of checking one file."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: CrewSummary | None = None
    spec: CrewSpec | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """No problems (warnings allowed)."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "path": self.path,
            "valid": self.ok,
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(w) for w in self.warnings],
            "summary": asdict(self.summary) if self.summary else None,
        }


def check_file(path: Path) -> Validation:
    """Load one crew file and describe it; never raises for a bad file."""
    try:
        crew = load_crew(path)
    except SpecError as exc:
        return Validation(str(path), problems=exc.problems)
    except MasError as exc:
        message = exc.message.removeprefix(f"{path}: ")
        return Validation(str(path), problems=[Problem(str(path), 0, 0, "", message, exc.hint)])
    return Validation(str(path), warnings=crew.warnings, summary=summarize(crew), spec=crew.spec)


def summarize(crew: Crew) -> CrewSummary:
    """The summary `mas validate` prints."""
    spec = crew.spec
    return CrewSummary(
        name=spec.name,
        process=spec.process,
        inputs=[
            {"name": n, "required": i.is_required(), "default": i.default}
            for n, i in spec.inputs.items()
        ],
        agents=[_agent(spec, name) for name in spec.agents],
        tasks=_tasks(spec),
        tools=[{"name": n, "impl": _impl(t), "kind": _kind(t)} for n, t in spec.tools.items()],
        models=_models(spec),
        limits=spec.limits.model_dump(),
        defaulted_limits=sorted(set(type(spec.limits).model_fields) - spec.limits.model_fields_set),
    )


def _agent(spec: CrewSpec, name: str) -> dict[str, Any]:
    agent = spec.agents[name]
    return {
        "name": name,
        "model": agent.model,
        "tools": list(agent.tools),
        "max_turns": agent.max_turns or spec.limits.max_turns,
    }


def _tasks(spec: CrewSpec) -> list[dict[str, Any]]:
    deps = graph.edges(spec)
    level = graph.levels(deps)
    position = {t.id: i for i, t in enumerate(spec.tasks)}
    ordered = sorted(spec.tasks, key=lambda t: (level[t.id], position[t.id]))
    return [
        {
            "id": t.id,
            "agent": t.agent,
            "level": level[t.id],
            "depends_on": list(t.depends_on),
            "writes": sorted(set(t.writes.values())),
            "validated": t.output_schema is not None,
        }
        for t in ordered
    ]


def _models(spec: CrewSpec) -> list[dict[str, Any]]:
    used = {a.model for a in spec.agents.values()} | set(spec.models)
    out = []
    for ref in sorted(used):
        model = spec.model_for(ref)
        if model is not None:
            out.append({"name": ref, "provider": model.provider, "model": model.model})
    return out


def _impl(tool: ToolSpec) -> str:
    return "function" if tool.function else "command" if tool.command else "mcp"


def _kind(tool: ToolSpec) -> str:
    """The tool's kind; an MCP server's kinds per tool, `read_doc: deterministic, *: live`."""
    if not isinstance(tool.kind, dict) or tool.deterministic is not None:
        return tool.effective_kind
    return ", ".join([*(f"{t}: {k}" for t, k in tool.kind.items()), "others: live"])
