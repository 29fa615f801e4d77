"""Which framework wrote a span, and which agent a framework's span belongs to.

The framework comes from the instrumentation scope's name, the resource's `service.name` or the
span's own attributes (CrewAI's `crew_key`, LangGraph's `metadata.langgraph_node`). It is one of
`FRAMEWORKS`, or "" when nothing says.

The agent: a span that names one (`gen_ai.agent.name`, `agent.name`) is that agent's. An agent
span that does not name one is named by OpenInference's `graph.node.id` (CrewAI puts the agent's
role there) or by its GenAI span name (`invoke_agent NAME`). A LangGraph span is the agent's
whose subgraph it runs in: the parent part of its `langgraph_checkpoint_ns`
(`order_checker:<id>|tools:<id>` is agent `order_checker`'s); a span of the top graph belongs to
the graph, a LangGraph root span named as the graph (`create_react_agent(..., name=...)`).
"""

from __future__ import annotations

from typing import Any

import msgspec

CREWAI, LANGGRAPH, OPENAI_AGENTS, AUTOGEN = "crewai", "langgraph", "openai-agents", "autogen"
FRAMEWORKS = (CREWAI, LANGGRAPH, OPENAI_AGENTS, AUTOGEN)
SWE_AGENT, OPENHANDS, CHAT = "swe-agent", "openhands", "chat"
"""Not frameworks a span names, but what wrote a trajectory or a transcript (`chats.py`): advice
speaks their settings too (a plain chat's: its prompt and its loop)."""
# Words in a scope name or service.name, most specific first (langgraph runs under langchain).
_WORDS = (
    ("crewai", CREWAI),
    ("langgraph", LANGGRAPH),
    ("openai_agents", OPENAI_AGENTS),
    ("openai-agents", OPENAI_AGENTS),
    ("autogen", AUTOGEN),
    ("ag2", AUTOGEN),
)
_SYSTEMS = {"crewai": CREWAI, "langgraph": LANGGRAPH, "autogen": AUTOGEN, "ag2": AUTOGEN}
_ANY = msgspec.json.Decoder()


def framework_of(scope: str, service: str, attrs: dict[str, Any]) -> str:
    """The framework a span says it comes from, or ""."""
    for text in (scope.lower(), service.lower()):
        for word, name in _WORDS:
            if word in text:
                return name
    if "crew_key" in attrs or "crewai.task.name" in attrs:
        return CREWAI
    if "langgraph" in str(attrs.get("metadata", "")):
        return LANGGRAPH
    return _SYSTEMS.get(str(attrs.get("gen_ai.system", "")).lower(), "")


def agent_span_name(name: str, attrs: dict[str, Any]) -> str:
    """The agent an agent span stands for when no attribute names it: node id, or GenAI name."""
    node = attrs.get("graph.node.id")
    if isinstance(node, str) and node:
        return node
    prefix = "invoke_agent "
    return name[len(prefix) :].strip() if name.startswith(prefix) else ""


def langgraph(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """A LangGraph span's metadata (`langgraph_node`, `langgraph_checkpoint_ns`), else None."""
    text = attrs.get("metadata")
    if not isinstance(text, str) or "langgraph" not in text:
        return None
    try:
        value = _ANY.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def langgraph_agent(metadata: dict[str, Any]) -> str:
    """The subgraph (agent) a LangGraph node ran in: "" for a node of the top graph."""
    parts = str(metadata.get("langgraph_checkpoint_ns") or "").split("|")
    return parts[-2].split(":", 1)[0] if len(parts) >= 2 else ""


def is_langgraph_root(metadata: dict[str, Any]) -> bool:
    """A graph's own run (no node of an outer graph): it is named as the graph."""
    return "langgraph_node" not in metadata
