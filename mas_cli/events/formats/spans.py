"""Who did it: span formats name the agent on an agent span, not on the calls under it.

Spans are usually exported when they end, so a model call arrives before the agent span that
holds it. `Attribution` keeps each trace's records that have no agent yet, with their parent
links, and lets them go as soon as an ancestor agent span names the agent, or when the trace
ends. Memory is bounded by the traces in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec

from mas_cli.events.formats.records import Record

Located = tuple[int, Record]


@dataclass
class _Trace:
    parents: dict[str, str] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    waiting: list[tuple[str, Located]] = field(default_factory=list)


@dataclass
class Attribution:
    """Gives each record the agent of its nearest agent-span ancestor."""

    traces: dict[str, _Trace] = field(default_factory=dict)

    def span(self, trace: str, span: str, parent: str) -> None:
        """Note a span's parent."""
        self.traces.setdefault(trace, _Trace()).parents[span] = parent

    def agent_span(self, trace: str, span: str, agent: str) -> Iterator[Located]:
        """An agent span: name it, and release the waiting records it holds."""
        state = self.traces.setdefault(trace, _Trace())
        state.agents[span] = agent
        yield from self._release(state)

    def record(self, parent: str, located: Located) -> Iterator[Located]:
        """A record without an agent: attribute it now, or keep it until its agent is known."""
        line, record = located
        state = self.traces.setdefault(record.trace, _Trace())
        agent = _find_agent(state, parent)
        if agent is None:
            state.waiting.append((parent, located))
        else:
            yield line, msgspec.structs.replace(record, agent=agent)

    def end(self, trace: str) -> Iterator[Located]:
        """The trace ended: release what waits, with whatever agent is known."""
        state = self.traces.pop(trace, None)
        if state is not None:
            yield from _sorted(state.waiting)

    def finish(self) -> Iterator[Located]:
        """The input ended: release every trace's waiting records."""
        for trace in list(self.traces):
            yield from self.end(trace)

    def _release(self, state: _Trace) -> Iterator[Located]:
        keep: list[tuple[str, Located]] = []
        ready: list[tuple[str, Located]] = []
        for parent, located in state.waiting:
            agent = _find_agent(state, parent)
            if agent is None:
                keep.append((parent, located))
            else:
                ready.append(
                    (parent, (located[0], msgspec.structs.replace(located[1], agent=agent)))
                )
        state.waiting = keep
        yield from _sorted(ready)


def _find_agent(state: _Trace, span: str) -> str | None:
    seen = 0
    while span and seen < 1000:  # a cycle of parent links must not hang the reader
        if span in state.agents:
            return state.agents[span]
        span = state.parents.get(span, "")
        seen += 1
    return None


def _sorted(items: list[tuple[str, Located]]) -> Iterator[Located]:
    for _, located in sorted(items, key=lambda item: (item[1][1].ts, item[1][0])):
        yield located
