"""The readers of our own run log are held to the writer's event models.

The fast reader's `Line` (events/formats/mas.py) and the state reader's structs
(triage/state_log.py) name the log's fields a second time, for speed; these tests find which
fields each reader reads and fail when one is not on the writer's model for that event type,
or has a type the writer's values do not decode into. So renaming a field in the writer
(`LlmCall.output_digest`, say) fails here, instead of leaving the triage reading nothing.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
import pytest
from event_models import MODELS, event
from pydantic import BaseModel

from mas_cli.events.formats import mas
from mas_cli.events.writer import event_line
from mas_cli.triage import state_log

LINE_FIELDS = {f.name: f.type for f in msgspec.structs.fields(mas.FullLine)}


def _probe(name: str, kind: Any) -> Any:
    """A value of a Line field's type that no default equals."""
    values = {str: f"probe-{name}", int: 7, bool: True, float: 0.5}
    if get_origin(kind) is tuple:
        return ("probe",)
    for member in (kind, *get_args(kind)):
        if member in values:
            return values[member]
    raise AssertionError(f"Line.{name}: no probe for {kind}")


def fields_read(event_type: str) -> set[str]:
    """The Line fields the record of an event type is made from: each one set alone changes it."""
    blank = mas.to_record(mas.FullLine(type=event_type))
    return {
        name
        for name, kind in LINE_FIELDS.items()
        if name != "type"
        and mas.to_record(mas.FullLine(type=event_type, **{name: _probe(name, kind)})) != blank
    }


def _kinds(annotation: Any) -> set[Any]:
    """The JSON value kinds an annotation admits: str, int, float, bool, list (None left out,
    since the writer leaves None fields out)."""
    origin = get_origin(annotation)
    if origin is Annotated:  # a bound (a token count's): the kind is the type bounded
        return _kinds(get_args(annotation)[0])
    if origin is Literal:
        return {type(value) for value in get_args(annotation)}
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(a) for a in get_args(annotation))) - {type(None)}
    if origin in (list, tuple):
        return {list}
    return {annotation}


def _decodes_into(reader: Any, writer: Any) -> bool:
    """Whether every value the writer's annotation admits decodes into the reader's type (an
    int where a float is read does)."""
    admitted = _kinds(reader)
    return _kinds(writer) <= admitted | ({int} if float in admitted else set())


def _check(model: type[BaseModel], reads: dict[str, Any]) -> list[str]:
    wrong = []
    for name, kind in sorted(reads.items()):
        declared = model.model_fields.get(name)
        if declared is None:
            wrong.append(f"{model.__name__} has no field {name!r}")
        elif not _decodes_into(kind, declared.annotation):
            wrong.append(f"{model.__name__}.{name} is {declared.annotation}, read as {kind}")
    return wrong


@pytest.mark.parametrize("event_type", sorted(mas.TRIAGED))
def test_every_field_the_fast_reader_reads_is_written_with_a_type_it_decodes(
    event_type: str,
) -> None:
    reads = {name: LINE_FIELDS[name] for name in fields_read(event_type)}
    assert reads, f"no field of {event_type} is read"
    assert _check(MODELS[event_type], reads) == []


def test_the_fast_reader_reads_every_field_it_declares() -> None:
    read = set().union(*(fields_read(t) for t in mas.TRIAGED))
    assert set(LINE_FIELDS) - read == {"type"}


def _written(event_type: str, reads: set[str]) -> dict[str, Any]:
    """Fields for an event the writer's model makes, each read field set to a value no default
    equals (of a closed set, its last value)."""
    values: dict[str, Any] = {}
    for name in reads:
        annotation = MODELS[event_type].model_fields[name].annotation
        closed = [a for a in (annotation, *get_args(annotation)) if get_origin(a) is Literal]
        probe = _probe(name, LINE_FIELDS[name])
        values[name] = get_args(closed[0])[-1] if closed else probe
    if "chain" in values:
        values["chain"] = list(values["chain"])
    return values


@pytest.mark.parametrize("event_type", sorted(mas.TRIAGED))
def test_an_event_the_writer_writes_reads_back_into_its_record(event_type: str) -> None:
    values = _written(event_type, fields_read(event_type))
    head = {"ts": "2026-11-21T02:00:00Z", "run_id": "r1", "trace_id": "t1", "span_id": "s1"}
    model = MODELS[event_type]
    line = event_line(model.model_validate(event(event_type, **(head | values))))
    decoded = mas.DECODER.decode(line.encode())
    for name, value in values.items():
        got = getattr(decoded, name)
        assert got == (tuple(value) if isinstance(value, list) else value), name
    assert mas.to_record(decoded) is not None


def test_every_field_the_state_reader_reads_is_written() -> None:
    writes = {f.name: f.type for f in msgspec.structs.fields(state_log.Write)}
    assert _check(MODELS["state_write"], writes) == []


def test_every_field_the_state_reader_reads_around_the_writes_is_written() -> None:
    order = {f.name: f.type for f in msgspec.structs.fields(state_log._Event) if f.name != "type"}
    starts = [MODELS["task_started"], MODELS["run_started"]]
    missing = [n for n in order if not any(n in model.model_fields for model in starts)]
    assert missing == []
    for model in starts:
        assert _check(model, {n: k for n, k in order.items() if n in model.model_fields}) == []


def test_the_benchmark_log_is_one_the_writer_writes(tmp_path: Path) -> None:
    """bench/bench_triage.py measures the triage on a log it writes by hand: every line of it
    is an event the writer's models accept, with no field they do not declare."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    try:
        from bench_triage import generate
    finally:
        sys.path.pop(0)
    log = tmp_path / "events.jsonl"
    generate(log, 1, 7, 0.5)
    seen: set[str] = set()
    for line in log.read_text().splitlines():
        doc = json.loads(line)
        model = MODELS[doc["type"]]
        assert set(doc) <= set(model.model_fields), (
            doc["type"],
            set(doc) - set(model.model_fields),
        )
        model.model_validate(doc)
        seen.add(doc["type"])
    ends = {"run_started", "task_started", "task_finished", "run_finished"}
    assert seen == ends | {"llm_call", "tool_call"}
