"""The most a crew could spend, from its limits alone (what `mas validate` prints).

A call's worst case is its whole input allowance (`max_history_tokens`, past which the
conversation is trimmed) plus its whole output allowance (the model's `max_tokens`), every
input token at the model's dearest input rate. The run's worst case is `max_llm_calls` such
calls at the dearest agent's price; the guard stops the run at `max_cost_usd` before that.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from msgspec import Struct

from mas_cli.cost.prices import PriceBook, price_book
from mas_cli.spec.models import CrewSpec


@dataclass(frozen=True)
class AgentBound:
    """One agent's worst call: its model, the tokens it could use, and their price."""

    agent: str
    model: str
    input_tokens: int
    output_tokens: int
    per_call: Decimal | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        cost = None if self.per_call is None else float(self.per_call)
        return {**self.__dict__, "per_call": cost}


class RunBound(Struct, frozen=True):
    """The run's worst case: `calls` calls at the dearest agent's worst call."""

    calls: int
    dearest: AgentBound | None
    cap: Decimal
    agents: list[AgentBound]
    unknown: list[str]
    price_data_version: str

    @property
    def bound(self) -> Decimal | None:
        """calls × the dearest worst call; None when some agent's model has no price."""
        if self.unknown or self.dearest is None or self.dearest.per_call is None:
            return None
        return self.calls * self.dearest.per_call

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        bound = self.bound
        return {
            "max_llm_calls": self.calls,
            "worst_case_usd": None if bound is None else float(bound),
            "max_cost_usd": float(self.cap),
            "agents": [a.to_json() for a in self.agents],
            "unpriced_models": self.unknown,
            "price_data_version": self.price_data_version,
        }


def worst_case_bound(spec: CrewSpec, book: PriceBook | None = None) -> RunBound:
    """The crew's worst case from its limits and its models' prices."""
    book = book or price_book(spec)
    agents = [_agent_bound(spec, book, name) for name in spec.all_agents()]
    priced = [a for a in agents if a.per_call is not None]
    dearest = max(priced, key=lambda a: a.per_call or 0, default=None)
    return RunBound(
        spec.limits.max_llm_calls,
        dearest,
        Decimal(str(spec.limits.max_cost_usd)),
        agents,
        sorted({a.model for a in agents if a.per_call is None}),
        book.version,
    )


def _agent_bound(spec: CrewSpec, book: PriceBook, name: str) -> AgentBound:
    model = spec.model_for(spec.agent(name).model)
    assert model is not None, "the loader checks every model reference"
    inputs = spec.limits.max_history_tokens
    output = model.output_cap
    worst = book.worst_cost(model, inputs, output)
    return AgentBound(name, model.model, inputs, output, worst)
