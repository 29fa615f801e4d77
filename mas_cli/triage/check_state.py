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
from mas_cli.triage.state_log import check_writes, last_writers, read_writes


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

    Raises:
        UsageError: both or neither of crew and schema given; a run that cannot be found.
        LogFormatError: the snapshot, schema or log cannot be read.
    """
    schema = _schema(crew, schema_file)
    snapshot = load_snapshot(state_file)
    report = StateReport(str(state_file), keys=len(snapshot))
    problems = check_snapshot(snapshot, schema)
    if log is not None:
        path = resolve_log(home_dir(home), log, last=False)
        writes = read_writes(path)
        report.log = str(path)
        problems = last_writers(writes, problems, str(path)) + check_writes(
            writes, schema, str(path)
        )
    report.problems = problems
    return report


def _schema(crew: Path | None, schema_file: Path | None) -> Schema:
    if crew is not None and schema_file is not None:
        raise UsageError("give --crew or --schema, not both")
    if schema_file is not None:
        return load_schema_file(schema_file)
    if crew is None:
        raise UsageError(
            "the state needs a schema to be checked against",
            hint="give the crew file (--crew crew.yaml) or a JSON Schema (--schema schema.json)",
        )
    from mas_cli.spec.loader import load_crew

    return crew_schema(load_crew(crew).spec)
