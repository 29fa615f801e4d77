"""The one checkpoint: every model call and tool call asks here first and reports here after.

The guard knows the run's limits and budgets, counts what was spent (retries included), and
answers with None (go on) or one LimitHit. It never raises and never sleeps.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from msgspec import Struct

from mas_cli.cost.prices import PriceBook, price_book
from mas_cli.engine.ledger import Ledger
from mas_cli.engine.outcomes import LimitHit, LimitKind, Scope
from mas_cli.llm.types import CallSite
from mas_cli.spec.models import AgentSpec, CrewSpec

NO_PROGRESS_TURNS = 3  # the same answer, or the same calls with the same results, turns running
PING_PONG_STEPS = 4  # A → B → A → B: a delegation chain alternating between two agents


class Spend(Struct):
    """What one scope (the run, or one agent) has spent."""

    llm_calls: int = 0
    tool_calls: int = 0
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    held_calls: int = 0  # calls let through and not yet settled: the breaker counts them
    held_tokens: int = 0  # the worst cases of those calls
    held_cost: Decimal = Decimal(0)
    held_tools: int = 0  # tool calls let through and not yet finished

    def hold(self, tokens: int, cost: Decimal, sign: int) -> None:
        """Reserve (sign 1) or release (sign -1) a call and its worst case."""
        self.held_calls += sign
        self.held_tokens += sign * tokens
        self.held_cost += sign * cost


@dataclass
class Guard:
    """Counters and limits for one run."""

    crew: CrewSpec
    started: float = field(default_factory=time.monotonic)
    run: Spend = field(default_factory=Spend)
    agents: defaultdict[str, Spend] = field(default_factory=lambda: defaultdict(Spend))
    identical: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    recent: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    delegations: int = 0
    delegated: Counter[tuple[str, str]] = field(default_factory=Counter)
    prior_llm_calls: int = 0  # counted by earlier runs of a resume's chain
    prior_tool_calls: int = 0
    prices: PriceBook = field(init=False)
    ledger: Ledger | None = None  # a budget shared with other runs (a batch), asked last

    def __post_init__(self) -> None:
        self.prices = price_book(self.crew)

    def check_llm_call(
        self, site: CallSite, worst_tokens: int, worst_cost: Decimal | None
    ) -> LimitHit | None:
        """Before a model call: may it be made, even if it spends its worst case?

        A call let through holds its worst case until `record_llm_call` settles it, so calls
        running at once cannot pass a budget together. A call cancelled in flight keeps its
        hold (it may have been billed). An unknown price holds no dollars.
        """
        agent, task, turn = site.agent, site.task, site.turn
        limits, spec = self.crew.limits, self.crew.agent(agent)
        calls = self.run.llm_calls + self.run.held_calls + 1
        worst = worst_cost or Decimal(0)
        hit = (
            _over(
                LimitHit("max_turns", turn, spec.max_turns or limits.max_turns, "task", agent, task)
            )
            or _over(LimitHit("max_llm_calls", calls, limits.max_llm_calls, "run", agent, task))
            or self._agent_calls(spec, agent, task)
            or self._budgets(agent, task, worst_tokens, worst)
            or self.check_time(agent, task)
        )
        if hit is None and self.ledger is not None:
            hit = self.ledger.check(agent, task, worst_tokens, worst)
        if hit is None:
            self._hold(agent, worst_tokens, worst, 1)
        return hit

    def turn_limit(self, agent: str, task: str, turn: int) -> LimitHit | None:
        """Whether this turn passes max_turns (the agent's, else the crew's)."""
        limit = self.crew.agent(agent).max_turns or self.crew.limits.max_turns
        return _over(LimitHit("max_turns", turn, limit, "task", agent, task))

    def seed(
        self, llm_calls: int, tokens: int, cost: Decimal, agent: str | None = None, tools: int = 0
    ) -> None:
        """Count what earlier runs spent (a resume's bill is cumulative, every count limit
        too): the run's, or an agent's. `own_llm_calls` and `own_tool_calls` are then what
        this run itself made."""
        spend = self.run if agent is None else self.agents[agent]
        spend.llm_calls += llm_calls
        spend.tool_calls += tools
        spend.tokens += tokens
        spend.cost_usd += cost
        if agent is None:
            self.prior_llm_calls += llm_calls
            self.prior_tool_calls += tools

    @property
    def own_llm_calls(self) -> int:
        """The model calls this run made itself."""
        return self.run.llm_calls - self.prior_llm_calls

    @property
    def own_tool_calls(self) -> int:
        """The tool calls this run made itself."""
        return self.run.tool_calls - self.prior_tool_calls

    def record_llm_call(
        self,
        site: CallSite,
        tokens: int,
        cost: Decimal | None,
        held: tuple[int, Decimal | None] = (0, None),
    ) -> LimitHit | None:
        """After a model call (or a failed attempt): release its worst case, settle its spend."""
        agent = site.agent
        self._hold(agent, held[0], held[1] or Decimal(0), -1)
        for spend in (self.run, self.agents[agent]):
            spend.llm_calls += 1
            spend.tokens += tokens
            spend.cost_usd += cost or Decimal(0)
        hit = self._budgets(agent, site.task, 0, Decimal(0), holds=False)
        if self.ledger is not None:
            worst = (held[0], held[1] or Decimal(0))
            hit = self.ledger.settle(agent, site.task, tokens, cost or Decimal(0), worst) or hit
        return hit

    def check_tool_call(
        self, site: CallSite, tool: str, args_digest: str, *, again: bool = False
    ) -> LimitHit | None:
        """Before a tool call: the run's tool budget, and identical calls within this task.

        A call let through is held until `record_tool_call` settles it, so calls asked for
        together (in one turn, or by tasks running at once) cannot pass max_tool_calls. A
        call made `again` (a resume's replayed turn: the chain counted it already) is not
        checked against max_tool_calls, holds nothing and is not recorded.
        """
        limits, agent, task = self.crew.limits, site.agent, site.task
        self.identical[(task, tool, args_digest)] += 1
        same = self.identical[(task, tool, args_digest)]
        calls = self.run.tool_calls + self.run.held_tools + (0 if again else 1)
        hit = (
            None
            if again
            else _over(LimitHit("max_tool_calls", calls, limits.max_tool_calls, "run", agent, task))
        ) or _over(
            LimitHit(
                "max_identical_tool_calls",
                same,
                limits.max_identical_tool_calls,
                "task",
                agent,
                task,
            )
        )
        if hit is None and not again:
            self.run.held_tools += 1
        return hit

    def record_tool_call(self, agent: str, *, ran: bool = True) -> None:
        """A tool call let through has ended: counted if the tool ran, released either way."""
        self.run.held_tools -= 1
        if ran:
            self.run.tool_calls += 1
            self.agents[agent].tool_calls += 1

    def record_progress(self, site: CallSite, fingerprint: str) -> LimitHit | None:
        """After a turn: the same answer, or the same calls with the same results, turns running."""
        agent, task = site.agent, site.task
        recent = self.recent[task]
        recent.append(fingerprint)
        del recent[:-NO_PROGRESS_TURNS]
        if len(recent) == NO_PROGRESS_TURNS and len(set(recent)) == 1:
            return LimitHit(
                "no_progress", NO_PROGRESS_TURNS, NO_PROGRESS_TURNS, "task", agent, task
            )
        return None

    def check_delegation(
        self, chain: tuple[str, ...], task: str, instruction_digest: str
    ) -> LimitHit | None:
        """Before a delegation (chain ends with the worker): count, depth, repeats, ping-pong."""
        limits, delegator, worker = self.crew.limits, chain[-2], chain[-1]
        self.delegated[(worker, instruction_digest)] += 1
        same = self.delegated[(worker, instruction_digest)]
        checks: list[tuple[LimitKind, int, int]] = [
            ("max_delegations", self.delegations + 1, limits.max_delegations),
            ("max_delegation_depth", len(chain) - 1, limits.max_delegation_depth),
            ("max_identical_delegations", same, limits.max_identical_delegations),
            ("delegation_ping_pong", _alternation(chain), PING_PONG_STEPS - 1),
        ]
        hits = (_over(LimitHit(kind, v, t, "run", delegator, task, chain)) for kind, v, t in checks)
        hit = next((h for h in hits if h), None)
        if hit is None:
            self.delegations += 1
        return hit

    def check_time(self, agent: str | None = None, task: str | None = None) -> LimitHit | None:
        """Has the run outlived run_timeout_s?"""
        elapsed = round(time.monotonic() - self.started, 3)
        return _over(
            LimitHit("run_timeout_s", elapsed, self.crew.limits.run_timeout_s, "run", agent, task)
        )

    def remaining_s(self) -> float:
        """Seconds left before run_timeout_s."""
        return self.crew.limits.run_timeout_s - (time.monotonic() - self.started)

    def _agent_calls(self, spec: AgentSpec, agent: str, task: str) -> LimitHit | None:
        if spec.max_llm_calls is None:
            return None
        calls = self.agents[agent].llm_calls + self.agents[agent].held_calls + 1
        return _over(LimitHit("max_llm_calls", calls, spec.max_llm_calls, "agent", agent, task))

    def release_llm_call(self, site: CallSite, held: tuple[int, Decimal | None]) -> None:
        """An attempt `check_llm_call` let through was not made: give back its hold."""
        worst = (held[0], held[1] or Decimal(0))
        self._hold(site.agent, *worst, -1)
        if self.ledger is not None:
            self.ledger.release(worst)

    def _hold(self, agent: str, tokens: int, cost: Decimal, sign: int) -> None:
        self.run.hold(tokens, cost, sign)
        self.agents[agent].hold(tokens, cost, sign)

    def _budgets(
        self, agent: str, task: str, worst_tokens: int, worst_cost: Decimal, holds: bool = True
    ) -> LimitHit | None:
        limits, spec = self.crew.limits, self.crew.agent(agent)
        run, mine = _committed(self.run, holds), _committed(self.agents[agent], holds)
        checks: list[tuple[LimitKind, Decimal, float | None, Scope]] = [
            ("max_tokens", run[0] + worst_tokens, limits.max_tokens, "run"),
            ("max_cost_usd", run[1] + worst_cost, limits.max_cost_usd, "run"),
            ("max_tokens", mine[0] + worst_tokens, spec.max_tokens, "agent"),
            ("max_cost_usd", mine[1] + worst_cost, spec.max_cost_usd, "agent"),
        ]
        for kind, value, threshold, scope in checks:
            if threshold is not None and value > Decimal(str(threshold)):
                spent = round(float(value), 6)
                return LimitHit(kind, spent, threshold, scope, agent, task, passed=not holds)
        return None


def _committed(spend: Spend, holds: bool) -> tuple[Decimal, Decimal]:
    """Tokens and dollars spent, plus what calls in flight may still spend."""
    if not holds:
        return Decimal(spend.tokens), spend.cost_usd
    return Decimal(spend.tokens + spend.held_tokens), spend.cost_usd + spend.held_cost


def _over(hit: LimitHit) -> LimitHit | None:
    """The hit, if its value passed its threshold."""
    return hit if hit.value > hit.threshold else None


def _alternation(chain: tuple[str, ...]) -> int:
    """How many agents at the end of the chain alternate between the same two (A, B, A, B...)."""
    if len(chain) < 2 or chain[-1] == chain[-2]:
        return min(len(chain), 1)
    steps = 2
    while steps < len(chain) and chain[-steps - 1] == chain[-steps + 1]:
        steps += 1
    return steps
