"""`mas triage state` end to end: load the snapshot, the schema and the log; check them all."""

from __future__ import annotations

from pathlib import Path

from mas_cli.errors import UsageError
from mas_cli.events.store import home_dir, resolve_log
from mas_cli.spec.models import CrewSpec
from mas_cli.triage.state import (
    Schema,
    StateReport,
    check_snapshot,
    load_schema_file,
    load_snapshot,
)
from mas_cli.triage.state_log import (
    Order,
    RunLog,
    check_writes,
    last_writers,
    read_run_log,
)


def crew_schema(spec: CrewSpec) -> Schema:
    """A crew's state schema: a key some task writes is expected; only those tasks write it."""
    writers = {
        key: frozenset(t.id for t in spec.tasks if key in t.writes.values()) for key in spec.state
    }
    required = frozenset(key for key, tasks in writers.items() if tasks)
    return Schema(dict(spec.state), required, writers)


def check_state(
    state_file: Path,
    crew: Path | None,
    schema_file: Path | None,
    log: str | None,
    home: Path | None,
) -> StateReport:
    """Check a snapshot against a crew's or a file's schema, and a run log's writes if given.

    Without --crew or --schema, the crew is the file the run log's run_started names (the log
    given, or the events.jsonl beside the state file).

    Raises:
        UsageError: both or neither of crew and schema given and no run names its crew; a run
            that cannot be found; a crew file named by the run that is no longer there.
        LogFormatError: the snapshot, schema or log cannot be read; the schema is not valid.
    """
    if crew is not None and schema_file is not None:
        raise UsageError("give --crew or --schema, not both")
    path = resolve_log(home_dir(home), log, last=False) if log is not None else None
    run = read_run_log(path) if path is not None else None
    spec, schema, described = _schema(crew, schema_file, state_file, path, run)
    snapshot = load_snapshot(state_file)
    report = StateReport(str(state_file), keys=len(snapshot), schema=described)
    problems = check_snapshot(snapshot, schema)
    if path is not None and run is not None:
        report.log, source = str(path), str(path)
        order = _order(run, spec)
        problems = last_writers(run.writes, problems, source) + check_writes(
            run.writes, schema, source, order
        )
    report.problems = problems
    return report


def _order(run: RunLog, spec: CrewSpec | None) -> Order:
    """What orders the writers: the run's task_started events, and the crew's depends_on."""
    depends = {task: set(deps) for task, deps in run.depends_on.items()}
    for task in spec.tasks if spec is not None else ():
        depends.setdefault(task.id, set()).update(task.depends_on)
    process = run.process or (spec.process if spec is not None else None)
    return Order(depends, sequential=process == "sequential")


def _schema(
    crew: Path | None,
    schema_file: Path | None,
    state_file: Path,
    log: Path | None,
    run: RunLog | None,
) -> tuple[CrewSpec | None, Schema, str]:
    if schema_file is not None:
        return None, load_schema_file(schema_file), f"schema {schema_file}"
    from mas_cli.spec.loader import load_crew

    if crew is not None:
        spec = load_crew(crew).spec
        return spec, crew_schema(spec), f"crew {crew}"
    crew, log, name = _crew_of_run(state_file, log, run)
    spec = load_crew(crew).spec
    if name and spec.name != name:
        raise UsageError(
            f"{crew} is now crew '{spec.name}', but the run log {log} is of crew '{name}'",
            hint="give the crew file the run was started with (--crew CREW.yaml)",
        )
    return spec, crew_schema(spec), f"crew {crew} (named by the run log)"


def _crew_of_run(
    state_file: Path, log: Path | None, run: RunLog | None
) -> tuple[Path, Path, str | None]:
    """The crew file a run was started with: from --log, else the events.jsonl beside the state.

    Raises:
        UsageError: no run names a crew; the file it names is no longer there.
    """
    if log is None and (beside := state_file.parent / "events.jsonl").is_file():
        log, run = beside, read_run_log(beside)
    if log is None or run is None or not run.crew_path:
        raise UsageError(
            "the state needs a schema to be checked against",
            hint="give the crew file (--crew crew.yaml), a JSON Schema (--schema schema.json), "
            "or the run's log (--log RUN_ID), whose run_started names its crew",
        )
    candidates = _crew_candidates(run.crew_path, log)
    for candidate in candidates:
        if candidate.is_file():
            return candidate, log, run.crew
    raise UsageError(_crew_gone(run.crew_path, log, candidates), hint=_CREW_HINT)


_CREW_HINT = "give it with --crew CREW.yaml, or a JSON Schema with --schema schema.json"


def _crew_gone(named: str, log: Path, looked: list[Path]) -> str:
    said = f"the run log {log} names its crew file {named}"
    if Path(named).is_absolute():
        return f"{said}, which is no longer there (moved or deleted)"
    where = " or ".join(str(p.parent.resolve()) for p in looked)
    return f"{said}, relative to the folder the run was started in; it is not in {where}"


def _crew_candidates(named: str, log: Path) -> list[Path]:
    """Where the crew file may be: as named (from here), or from the folder the run was
    started in (the one holding the `.mas` home, when the log is in `.mas/runs/<id>/`)."""
    path = Path(named)
    if path.is_absolute():
        return [path]
    home = log.resolve().parent.parent.parent
    started_in = [home.parent / path] if home.name == ".mas" else []
    return [*started_in, path]
