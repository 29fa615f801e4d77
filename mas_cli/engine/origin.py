"""What a resume takes from the run it continues, read from that run's folder alone (and the
folders of the runs it continued in turn): the tasks that ended ok, with their outputs and
state writes; the side_effect calls that completed, and those whose outcome is unknown; what
the chain of runs has spent; and the model calls recorded, to be answered again.

A killed run (SIGKILL) leaves no output.json: an ok task's output is then its last recorded
answer in llm.jsonl, checked against the digest its task_finished event holds.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mas_cli.engine.digests import digest
from mas_cli.errors import UsageError
from mas_cli.events import models as ev
from mas_cli.events.jsonsafe import dumps
from mas_cli.events.liveness import holder
from mas_cli.events.reader import LogReader
from mas_cli.events.spend import Spend
from mas_cli.events.store import EVENTS, resolve_log
from mas_cli.events.text import fix_text, loads
from mas_cli.llm.delegation import DELEGATE
from mas_cli.llm.recording import LLM_LOG, LlmLog, completion_doc, request_doc
from mas_cli.llm.replay_records import RecordDoc
from mas_cli.llm.types import Completion, Request

Turn = tuple[str, str, int]  # agent, task, turn
ToolCallId = tuple[str, str, int, str, str, str]
"""A tool call as max_tool_calls counts it: agent, task, turn, call id, tool, arguments digest."""
MAX_CHAIN = 1000  # resumes of resumes; a loop in resumed_from (a tampered log) stops here


@dataclass(frozen=True)
class Carried:
    """A task that ended ok: what a resume keeps of it instead of running it again."""

    task: str
    agent: str | None
    output: str | None
    data: Any
    prompt_digest: str
    turns: int
    writes: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Effect:
    """A side_effect call of the chain: where it was made, and how it ended if it did."""

    task: str
    tool: str
    args_digest: str
    key: str
    ok: bool = False
    output: str | None = None
    error: str | None = None
    completed: bool = False


@dataclass
class Spent:
    """What the chain of runs spent (`Spend`: replayed calls are not counted), for the run
    and per agent; and the tool calls it made, each once.

    A run of the chain that made a task's turns again (answered from the recording) made
    their tool calls again too, under the same ids: a call counts once however many runs of
    the chain logged it (the most times one run did), so the count is a clean run's."""

    run: Spend = field(default_factory=Spend)
    agents: defaultdict[str, Spend] = field(default_factory=lambda: defaultdict(Spend))
    tools: Counter[ToolCallId] = field(default_factory=Counter)

    def add(self, event: ev.LlmCall) -> None:
        """Count one model call attempt."""
        self.run.add(event)
        self.agents[event.agent or ""].add(event)

    def add_tools(self, calls: Counter[ToolCallId]) -> None:
        """Count one run's tool calls, those another run of the chain made too counted once."""
        for call, times in calls.items():
            self.tools[call] = max(self.tools[call], times)

    def tool_calls(self, agent: str | None = None) -> int:
        """The chain's tool calls toward max_tool_calls: the run's, or one agent's."""
        return sum(n for call, n in self.tools.items() if agent is None or call[0] == agent)


@dataclass
class Origin:
    """The run a resume continues, as its folder (and its chain's folders) tell it."""

    run_id: str
    run_dir: Path
    crew: str
    crew_path: str
    inputs: dict[str, Any]
    offline: bool
    status: str | None = None
    """How the run ended (run_finished), None when it was killed."""
    root: str = ""
    """The first run of the chain: part of every idempotency key, so keys survive resumes."""
    chain: list[str] = field(default_factory=list)
    carried: dict[str, Carried] = field(default_factory=dict)
    effects: dict[str, Effect] = field(default_factory=dict)
    spent: Spent = field(default_factory=Spent)
    records: dict[Turn, list[tuple[dict[str, Any], Completion]]] = field(default_factory=dict)

    def in_flight(self) -> list[Effect]:
        """Side_effect calls that started and never ended: their outcome is unknown."""
        return [e for e in self.effects.values() if not e.completed]


def read_origin(home: Path, ref: str | None, *, last: bool = False) -> Origin:
    """The run named (an id, a unique prefix, a run folder or its events.jsonl, or the last).

    Raises:
        UsageError: no such run, a run still running, or a log with no run_started.
    """
    events = resolve_log(home, ref, last)
    run_dir = events.parent
    running = holder(run_dir)
    if running is not None:
        by = f" (process {running.pid})" if running.pid else ""
        stop = f"kill -INT {running.pid}" if running.pid else "Ctrl-C"
        raise UsageError(
            f"run {run_dir.name} is still running{by}",
            hint=f"wait for it to end, or stop it ({stop}) and resume it then",
        )
    started = _started(events)
    origin = Origin(
        started.run_id, run_dir, started.crew, started.crew_path, dict(started.inputs),
        started.offline,
    )  # fmt: skip
    _read_chain(origin, started)
    return origin


def _started(events: Path) -> ev.RunStarted:
    first = next((e for e in LogReader(events) if isinstance(e, ev.RunStarted)), None)
    if first is None:
        raise UsageError(
            f"{events}: no run_started event; this is not a run that can be resumed",
            hint="name a run folder of `mas runs`",
        )
    return first


def _read_chain(origin: Origin, started: ev.RunStarted) -> None:
    """Read the origin, then each run it resumed, back to the first."""
    run_dir, seen = origin.run_dir, set[str]()
    while started.run_id not in seen and len(seen) < MAX_CHAIN:
        seen.add(started.run_id)
        origin.chain.append(started.run_id)
        origin.root = started.run_id
        _read_run(origin, run_dir, first=run_dir == origin.run_dir)
        previous = run_dir.parent / (started.resumed_from or "") / EVENTS
        if not started.resumed_from or not previous.is_file():
            return
        run_dir, started = previous.parent, _started(previous)


def _read_run(origin: Origin, run_dir: Path, *, first: bool) -> None:
    """Spend and side effects from every run; tasks and state from the origin alone."""
    tasks: dict[str, ev.TaskFinished] = {}
    prompts: dict[str, str] = {}
    writes: defaultdict[str, list[tuple[str, Any]]] = defaultdict(list)
    tool_calls: Counter[ToolCallId] = Counter()
    for event in LogReader(run_dir / EVENTS):
        if isinstance(event, ev.LlmCall):
            origin.spent.add(event)
        elif isinstance(event, ev.ToolStarted | ev.ToolCallEvent):
            _effect(origin, event)
            if isinstance(event, ev.ToolCallEvent) and counted(event):
                tool_calls[tool_call_id(event)] += 1
        elif isinstance(event, ev.TaskStarted) and event.task:
            prompts[event.task] = event.prompt_digest
        elif isinstance(event, ev.StateWrite) and event.accepted and event.task:
            writes[event.task].append((event.key, event.value))
        elif isinstance(event, ev.TaskFinished) and event.task:
            tasks[event.task] = event
        elif isinstance(event, ev.RunFinished) and first:
            origin.status = event.status
    origin.spent.add_tools(tool_calls)
    records = _records(run_dir / LLM_LOG)
    for turn, answers in records.items():
        origin.records.setdefault(turn, []).extend(answers)
    if first:
        outputs = _outputs(run_dir)
        for task, end in tasks.items():
            found = _carried(end, prompts.get(task), writes[task], outputs, records)
            if found:
                origin.carried[task] = found


def counted(event: ev.ToolCallEvent) -> bool:
    """Whether a logged tool call counted toward max_tool_calls: a call that ran (or began
    to), not a refusal, a delegation (counted by the delegation limits) or a side effect
    answered from an earlier run of the chain."""
    return event.status != "refused" and event.tool != DELEGATE and not event.replayed


def tool_call_id(event: ev.ToolCallEvent) -> ToolCallId:
    """The call as a resume knows it again (see ToolCallId)."""
    where = (event.agent or "", event.task or "", event.turn or 0)
    return (*where, event.tool_call_id or "", event.tool, event.args_digest)


def _effect(origin: Origin, event: ev.ToolStarted | ev.ToolCallEvent) -> None:
    key = event.idempotency_key
    if not key or not event.task:
        return
    if isinstance(event, ev.ToolStarted):
        origin.effects.setdefault(key, Effect(event.task, event.tool, event.args_digest, key))
        return
    if (
        event.status in ("ok", "error")
        and not origin.effects.get(key, Effect("", "", "", key)).completed
    ):
        origin.effects[key] = Effect(
            event.task, event.tool, event.args_digest, key, event.status == "ok",
            event.result, event.error, completed=True,
        )  # fmt: skip


def _carried(
    end: ev.TaskFinished,
    prompt: str | None,
    writes: list[tuple[str, Any]],
    outputs: dict[str, Any],
    records: dict[Turn, list[tuple[dict[str, Any], Completion]]],
) -> Carried | None:
    """An ok task with a known prompt and a known output; None when it must run again."""
    if end.status != "ok" or prompt is None or not end.task:
        return None
    if end.carried_from is not None:  # carried into the origin: it holds the output itself
        text, data = end.output, end.data
    else:
        text, data = _output(end, outputs, records)
    if text is None and end.output_digest is not None:
        return None
    return Carried(end.task, end.agent, text, data, prompt, end.turns, tuple(writes))


def _output(
    end: ev.TaskFinished,
    outputs: dict[str, Any],
    records: dict[Turn, list[tuple[dict[str, Any], Completion]]],
) -> tuple[str | None, Any]:
    """The task's output from output.json, else its last answer in llm.jsonl; each only if
    its digest is the one task_finished recorded."""
    saved = outputs.get(end.task or "")
    saved = saved if isinstance(saved, dict) else {}
    text = saved.get("output")
    if isinstance(text, str) and digest(text) == end.output_digest:
        return text, saved.get("data")
    last = records.get((end.agent or "", end.task or "", end.turns))
    for _request, completion in reversed(last or []):
        text = completion.message.content
        if not completion.message.tool_calls and digest(text) == end.output_digest:
            return text, None  # data: parsed again by the resume, under the task's schema
    return None, None


def _outputs(run_dir: Path) -> dict[str, Any]:
    """output.json's tasks, or {} when the run left none (killed) or it cannot be read."""
    try:
        doc = json.loads((run_dir / "output.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    tasks = doc.get("tasks") if isinstance(doc, dict) else None
    return tasks if isinstance(tasks, dict) else {}


def _records(path: Path) -> dict[Turn, list[tuple[dict[str, Any], Completion]]]:
    """Each answered request of llm.jsonl by agent, task and turn. Lines that are not whole
    records (a run killed mid-write, a tampered line) are passed over: a call not found is
    made live, never answered wrongly."""
    found: dict[Turn, list[tuple[dict[str, Any], Completion]]] = {}
    try:
        handle = path.open("rb")
    except OSError:
        return found
    with handle:
        for line in handle:
            record = _record(line)
            if record is None:
                continue
            outcome = record.outcome()
            if isinstance(outcome, Completion):
                turn = (record.agent, record.task, record.turn)
                found.setdefault(turn, []).append((record.request, outcome))
    return found


def _record(line: bytes) -> RecordDoc | None:
    try:
        return RecordDoc.model_validate(loads(line))
    except (ValueError, RecursionError):
        return None


@dataclass
class Resume:
    """The run continued, where replayed answers are recorded, and the tasks that diverged."""

    origin: Origin
    log: LlmLog
    diverged: set[tuple[str, str]] = field(default_factory=set)
    tool_calls: Counter[ToolCallId] = field(default_factory=Counter)

    def made_before(self, call: ToolCallId) -> bool:
        """Whether this tool call is one the chain made and counted already (the same turn
        answered again from the recording): then it does not count again."""
        self.tool_calls[call] += 1
        return self.tool_calls[call] <= self.origin.spent.tools[call]

    def answer(self, request: Request) -> Completion | None:
        """The recorded answer to this very request, or None (and the task runs live on)."""
        site = request.site
        who = (site.agent, site.task)
        if who in self.diverged:
            return None
        wanted = self._as_recorded(request)
        for recorded, completion in self.origin.records.get((*who, site.turn), []):
            if recorded == wanted:
                return completion
        self.diverged.add(who)
        return None

    def record(self, request: Request, completion: Completion) -> None:
        """Write the replayed answer to this run's llm.jsonl, marked as replayed."""
        outcome = {"response": completion_doc(completion), "replayed": True, "latency_s": 0.0}
        self.log.write(request, outcome)

    def _as_recorded(self, request: Request) -> Any:
        """The request as llm.jsonl holds it: scrubbed, surrogates fixed, through JSON."""
        doc = self.log.secrets.scrub_value(request_doc(request))
        return loads(fix_text(dumps(doc, ensure_ascii=False, default=str)))
