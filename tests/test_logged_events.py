"""The read-only commands' events (events/logged.py, msgspec) are the writer's models, read.

Each Struct is held to its pydantic model (events/models.py) field by field: the same names
in the same order, the same types and the same defaults (the envelope aside, which both
readers require). Then both readers read the same lines, real runs of the example crews and
lines made odd on purpose (unknown fields, lax values, a cut line, an older log, garbage), and
must agree on every one: the same event, dumped the same way, or both skip it.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import msgspec
import pytest
from crewkit import run
from event_models import MODELS
from pydantic import ValidationError

from mas_cli.events import logged
from mas_cli.events.jsonsafe import dumps
from mas_cli.events.models import read_event
from mas_cli.events.reader import LogReader, StructReader

ROOT = Path(__file__).resolve().parent.parent
CREWS = ("fraud-review", "runaway-rescoring", "delegation-ping-pong", "support-ticket")


def test_every_event_type_has_its_struct() -> None:
    assert set(logged.EVENTS) == set(MODELS)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_struct_fields_are_the_models(kind: str) -> None:
    model, struct = MODELS[kind], logged.EVENTS[kind]
    declared = {n: f for n, f in model.model_fields.items() if n != "type"}
    fields = {f.name: f for f in msgspec.structs.fields(struct)}
    assert list(fields) == list(declared)  # order too: `show --json` dumps in this order
    for name, info in declared.items():
        field = fields[name]
        assert _plain(field.type) == info.annotation, f"{kind}.{name}"
        assert _bounds(field.type) == _model_bounds(info), f"{kind}.{name}: the same bounds"
        if name in logged.ENVELOPE:
            assert field.required, f"{kind}.{name}: the envelope is required on reading"
        elif info.is_required():
            assert field.required, f"{kind}.{name} is required by the model"
        else:
            assert not field.required, f"{kind}.{name} has a default in the model"
            assert _default(field) == info.default, f"{kind}.{name}"


def _plain(kind: Any) -> Any:
    """A type without its msgspec.Meta (pydantic keeps its own constraints apart)."""
    return get_args(kind)[0] if get_origin(kind) is Annotated else kind


def _bounds(kind: Any) -> tuple[Any, Any]:
    metas = [m for m in get_args(kind)[1:] if isinstance(m, msgspec.Meta)]
    return (metas[0].ge, metas[0].le) if metas else (None, None)


def _model_bounds(info: Any) -> tuple[Any, Any]:
    ge = [m.ge for m in info.metadata if hasattr(m, "ge")]
    le = [m.le for m in info.metadata if hasattr(m, "le")]
    return (ge[0] if ge else None, le[0] if le else None)


def _default(field: msgspec.structs.FieldInfo) -> Any:
    """A field's default: msgspec keeps an empty `[]` or `{}` default as its factory."""
    if field.default is not msgspec.NODEFAULT:
        return field.default
    return field.default_factory()


@pytest.fixture(scope="module")
def real_logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    home = tmp_path_factory.mktemp("home")
    logs = []
    for crew in CREWS:
        result = run(ROOT / "crews" / crew / "crew.yaml", home)
        logs.append(Path(result.run_dir) / "events.jsonl")
    return logs


def _pydantic(line: bytes) -> dict[str, Any] | None:
    try:
        return read_event(line).model_dump(mode="json")
    except ValidationError:
        return None


def _struct(line: bytes) -> dict[str, Any] | None:
    try:
        return logged.as_json(logged.read_line(line))
    except logged.NotAnEvent:
        return None


def _agree(line: bytes) -> None:
    theirs, ours = _pydantic(line), _struct(line)
    # as `--json` writes them: 1 and 1.0 differ, NaN is null
    assert dumps(ours) == dumps(theirs), line


def _real_lines(logs: list[Path]) -> list[bytes]:
    return [line for log in logs for line in log.read_bytes().splitlines()]


def test_real_runs_read_the_same(real_logs: list[Path]) -> None:
    lines = _real_lines(real_logs)
    kinds = {json.loads(line)["type"] for line in lines}
    assert {"llm_call", "tool_call", "handoff", "limit_hit", "run_finished"} <= kinds
    for line in lines:
        assert _struct(line) is not None
        _agree(line)


PROBES: tuple[Any, ...] = (
    None, "", "x", "3", "1.5", "true", "yes", "NaN", 0, 1, -1, 3.0, 1.5, 2**70, True, False,
    [], ["a"], [1], {}, {"a": 1}, {"a": "b"},
)  # fmt: skip


def test_every_field_given_every_kind_of_value(real_logs: list[Path]) -> None:
    """Each field of one line of each type (those the writer left out too), set to each probe
    value, or left out."""
    firsts: dict[str, dict[str, Any]] = {}
    for line in _real_lines(real_logs):
        event = json.loads(line)
        firsts.setdefault(event["type"], event)
    for kind, event in firsts.items():
        for name in [*event, *(n for n in MODELS[kind].model_fields if n not in event)]:
            for probe in PROBES:
                _agree(json.dumps({**event, name: probe}).encode())
            _agree(json.dumps({k: v for k, v in event.items() if k != name}).encode())


ODD_TEXTS = (
    b'{"type": "llm_call", "provider": "p", "model": "m", "cost_usd": NaN, ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "cost_usd": Infinity, ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "cost_usd": -Infinity, ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "input_tokens": true, ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "latency_s": 1e400, ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "newer_field": {"x": [1]}, ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "type": "llm_call", ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "model": 5, ENV}',
    b'{"type": "run_finished", "status": "ok", "duration_s": 1, "llm_calls": 1, '
    b'"tool_calls": 0, "input_tokens": 1, "output_tokens": 1, "tasks": {"ok": "2"}, ENV}',
    b'{"type": "newer_event", "what": 1, ENV}',
    b'{"type": "llm_call", "provider": "p", "model": "m"}',
    b'{"type": "llm_call", "provider": "p", "model": "m", "ts": null, ENV}',
    b'{"type": "task_started", "v": 0, ENV}',
    b'{"type": "task_started", "v": "1", "turn": "2", ENV}',
    b'{"type": "state_write", "key": "k", "value": NaN, "read_version": 0, "writer": "w", '
    b'"accepted": true, ENV}',
    b'{"type": "task_started", "agent": "\\ud800", ENV}',
    b'{"type": "task_started", "agent": "a\\u0000b", ENV}',
    b'{"type": "task_started", ENV',
    b'["task_started"]',
    b'"task_started"',
    b"NaN",
    b"null",
    b"{}",
    b"\xff\xfe",
    b'{"type": "task_started", ENV} trailing',
    b'{"type": "task_started", ENV}{"type": "task_started", ENV}',
    b"[" * 5000 + b"]" * 5000,
)
ENV = b'"ts": "t", "run_id": "r", "trace_id": "a", "span_id": "b"'


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_odd_lines_read_the_same(text: bytes) -> None:
    _agree(text.replace(b"ENV", ENV))


def test_cut_lines_read_the_same(real_logs: list[Path]) -> None:
    """Every line cut at every few bytes: what a log killed mid-write may end with."""
    for line in _real_lines(real_logs)[:12]:
        for end in range(1, len(line), 7):
            _agree(line[:end])


def test_a_log_with_odd_lines_skips_and_counts_the_same(
    real_logs: list[Path], tmp_path: Path
) -> None:
    odd = [text.replace(b"ENV", ENV) for text in ODD_TEXTS]
    mixed = list(itertools.chain.from_iterable(zip(_real_lines(real_logs), odd, strict=False)))
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join([*mixed, b"", b"   ", b'{"type": "llm_call", "ts"']))
    theirs, ours = LogReader(log), StructReader(log)
    dumped = [dumps(e.model_dump(mode="json")) for e in theirs]
    assert [dumps(logged.as_json(e)) for e in ours] == dumped
    assert ours.skipped == theirs.skipped > 0
    assert [n for n, _ in ours.bad_lines] == [n for n, _ in theirs.bad_lines]


def test_lines_msgspec_refuses_alone_do_not_load_pydantic() -> None:
    """A cut line, an unknown type and garbage are told apart without pydantic."""
    script = (
        "import sys\n"
        "from mas_cli.events.logged import NotAnEvent, read_line\n"
        'for line in (b\'{"type": "llm\', b\'{"type": "newer", "ts": "t"}\', b\'x\', '
        'b\'{"type": "task_started", "ts": "t", "run_id": "r", "trace_id": "a", '
        '"span_id": "b"}\'):\n'
        "    try:\n"
        "        read_line(line)\n"
        "    except NotAnEvent:\n"
        "        pass\n"
        "assert 'pydantic' not in sys.modules, 'pydantic loaded'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


class _ViaModels(LogReader):
    """The reports' reader as it was: every line through pydantic, then as the Struct."""

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        return (logged.from_model(event) for event in super().__iter__())


def _where(output: str) -> str:
    """The output with the first skipped line's file:line kept and its reason left out: each
    decoder says why in its own words (msgspec's `Input data was truncated`, pydantic's `EOF
    while parsing`); the outputs are read 1000 columns wide, so no reason wraps."""
    return re.sub(r"(\.jsonl:\d+): [^\n]*\)", r"\1)", output)


def _odd_home(real_logs: list[Path], home: Path) -> Path:
    """The real runs, and copies of one made odd: unknown fields and types, lax values, a cut
    last line, an older writer's lines (fields it did not write yet left out)."""
    runs = home / "runs"
    lines = real_logs[1].read_bytes().splitlines()
    odd = [line[:-1] + b', "newer_field": [1]}' for line in lines]
    odd[3:3] = [ODD_TEXTS[0].replace(b"ENV", ENV), b"not json", ODD_TEXTS[9].replace(b"ENV", ENV)]
    older = [
        re.sub(rb', "(output_shape|server|usage_source|chain)": [^,}]+', b"", x) for x in lines
    ]
    lax = [x.replace(b'"input_tokens": ', b'"input_tokens": true, "was": ') for x in lines]
    logs = {"odd": odd, "cut": [*lines[:-1], lines[-1][:40]], "old": older, "lax": lax}
    for i, log in enumerate(real_logs):
        (runs / f"20260101T00000{i}000-real{i:02}").mkdir(parents=True)
        (runs / f"20260101T00000{i}000-real{i:02}" / "events.jsonl").write_bytes(log.read_bytes())
    for i, (name, made) in enumerate(logs.items()):
        folder = runs / f"20260102T00000{i}000-{name}00"
        folder.mkdir()
        (folder / "events.jsonl").write_bytes(b"\n".join(made) + b"\n")
    return home


def test_reports_are_the_same_read_either_way(
    real_logs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from mas_cli.cli import app

    home = _odd_home(real_logs, tmp_path / "home")
    at = ["--home", str(home)]
    commands = [["runs", *at, "--json"], ["runs", *at], ["cache", "stats", *at, "--json"]]
    for folder in sorted((home / "runs").iterdir()):
        run_id = folder.name
        commands += [["show", run_id, *at, "--json"], ["show", run_id, *at]]
        commands += [["cost-report", run_id, *at, "--json"], ["cost-report", run_id, *at]]
    runner = CliRunner()

    def outputs() -> list[tuple[int, str, str]]:
        done = [runner.invoke(app, argv, env={"COLUMNS": "1000"}) for argv in commands]
        return [(d.exit_code, _where(d.stdout), _where(d.stderr)) for d in done]

    ours = outputs()
    for module in ("mas_cli.events.runs", "mas_cli.cost.report", "mas_cli.events.tool_use"):
        monkeypatch.setattr(f"{module}.StructReader", _ViaModels)
    theirs = outputs()
    assert ours == theirs
    shown = "".join(out + err for _, out, err in ours)
    assert "unreadable lines skipped" in shown  # the odd logs were read as odd
    assert '"skipped_lines": 2' in shown
