"""`mas resume`: continue a run that stopped (a limit, a failure, Ctrl-C, SIGKILL) as a new run.

The new run has its own id and folder, and its `run_started` names the run it continues
(`resumed_from`). It runs the crew file as it is now, with the origin's inputs and providers:
tasks that ended ok are carried over (engine.carry); the others run again, their model calls
answered from the recording until the first request that differs (engine.replayer); side
effects that completed are not made again (engine.effects). The bill is cumulative: what the
chain of runs spent counts against this run's budgets and circuit breaker.

A side_effect call whose outcome is unknown (started, never ended: the process died) is not
made again blindly: the resume stops before anything runs and names it, unless the tool
declares `idempotent: true` (it honours its key) or the user says to make it again.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mas_cli.engine.origin import Effect, Origin, read_origin
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.errors import MasError, UsageError
from mas_cli.events.store import EVENTS
from mas_cli.events.text import loads
from mas_cli.records import replace
from mas_cli.spec.loader import Crew, load_crew
from mas_cli.spec.overrides import with_limits


@dataclass(frozen=True)
class ResumeOptions:
    """How to resume: raised limits, another crew file path, what to do with unknown calls."""

    limits: tuple[str, ...] = ()
    """`NAME=VALUE` pairs laid over the crew file's limits for this run."""
    crew: Path | None = None
    """The crew file, when it is no longer where the origin ran it from."""
    repeat_in_flight: bool = False
    """Make side_effect calls of unknown outcome again, even for tools that do not declare
    that they honour their key."""
    last: bool = False
    """Resume the latest run (`ref` is then ignored)."""


def prepare_resume(
    home: Path, ref: str | None, options: ResumeOptions, run: RunOptions | None = None
) -> tuple[Crew, RunOptions]:
    """The crew and the options to pass to `run_crew` to resume a run (nothing runs yet).

    `run` gives what a caller shares across runs (listeners, a batch's shared resources);
    its home, inputs, offline and resume fields are replaced by the origin's.

    Raises:
        UsageError: no such run, a run still running, a crew file that cannot be found,
            a bad --limit.
        SpecError: the crew file has problems.
        MasError: a side_effect call of unknown outcome (exit 1), named with the fix.
    """
    origin = read_origin(home, ref, last=options.last)
    if run is None or run.shared.batch_id is None:  # a batch hands each item its latest run
        _refuse_resumed(origin)
    crew = with_limits(_crew(origin, options.crew), options.limits)
    if not options.repeat_in_flight:
        _refuse_unknown(origin, crew)
    base = run or RunOptions(home)
    return crew, replace(
        base, home=home, inputs=origin.inputs, offline=origin.offline, resume=origin
    )


async def resume_run(
    home: Path, ref: str | None, options: ResumeOptions, run: RunOptions | None = None
) -> RunResult:
    """Resume a run to completion or to a clear stop; the new run's result.

    Raises:
        As prepare_resume, and as run_crew.
    """
    crew, run_options = prepare_resume(home, ref, options, run)
    assert run_options.resume is not None  # prepare_resume names the run continued
    if run is not None and run.shared.batch_id is not None:
        return await run_crew(crew, run_options)
    with claimed(run_options.resume):
        return await run_crew(crew, run_options)


@contextlib.contextmanager
def claimed(origin: Origin) -> Iterator[None]:
    """One resume of a run at a time: the run's folder is locked (flock, released by the
    kernel however the process ends) while its resume runs, and, once the lock is held, a
    resume that ran meanwhile is seen. Two resumes started together both passed the check
    that the run was not resumed yet, and both made its side effects.

    Raises:
        UsageError: another process is resuming the run, or has resumed it meanwhile.
    """
    fd = os.open(origin.run_dir, os.O_RDONLY)
    try:
        if sys.platform != "win32":
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(
                    f"run {origin.run_id} is being resumed by another mas process",
                    hint="let that resume end; to go on after it, resume the run it makes",
                ) from None
            except OSError:  # a file system without locks: the check alone, as before
                pass
        _refuse_resumed(origin)
        yield
    finally:
        os.close(fd)


def _crew(origin: Origin, path: Path | None) -> Crew:
    where = path or Path(origin.crew_path)
    if path is None and not where.is_file():
        raise UsageError(
            f"run {origin.run_id} ran crew file {origin.crew_path}, which is not there any more",
            hint="give its path with --crew CREW.yaml",
        )
    crew = load_crew(where)
    if crew.spec.name != origin.crew:
        raise UsageError(
            f"{where} is crew {crew.spec.name!r}; run {origin.run_id} is a run of {origin.crew!r}",
            hint=f"give the file of crew {origin.crew!r} with --crew",
        )
    _fit_inputs(origin, crew)
    return crew


def _fit_inputs(origin: Origin, crew: Crew) -> None:
    """The run's inputs must still be the crew's: a resume takes no --input (the hint `mas run`
    gives for a missing one would send the user to an option that is not there)."""
    declared = crew.spec.inputs
    gone = sorted(set(origin.inputs) - set(declared))
    new = [
        name
        for name, item in declared.items()
        if item.is_required() and origin.inputs.get(name, item.default) is None
    ]
    if not gone and not new:
        return
    if new:
        problem = f"needs input{'s' * (len(new) > 1)} {', '.join(new)}, which run "
        problem += f"{origin.run_id} was not given"
        fix = f"give {'them' if len(new) > 1 else 'it'} a default: in {crew.path}"
    else:
        problem = f"no longer takes input{'s' * (len(gone) > 1)} {', '.join(gone)}, which run "
        problem += f"{origin.run_id} was given"
        fix = f"declare {'them' if len(gone) > 1 else 'it'} again under inputs: in {crew.path}"
    raise UsageError(
        f"{crew.path}: the crew file {problem}: a resume runs with the run's inputs",
        hint=f"{fix}, or start a new run with mas run and --input",
    )


def _refuse_resumed(origin: Origin) -> None:
    """A run already resumed is not resumed again: the side effects its resume made (and the
    spend) are not in its chain, so they would be made again. The last run of the chain is
    named instead."""
    later = resumed_by(origin.run_dir.parent, origin.run_id)
    if later is None:
        return
    last = last_of_chain(origin.run_dir.parent, later)
    raise UsageError(
        f"run {origin.run_id} was already resumed by run {later}: resuming it again would "
        "repeat what that resume did",
        hint=f"resume the last run of the chain: mas resume {last}",
    )


def last_of_chain(runs: Path, run_id: str) -> str:
    """The last run of the chain of resumes that begins at `run_id` (itself, if none)."""
    last = run_id
    while (later := resumed_by(runs, last)) is not None:
        last = later
    return last


def resumed_by(runs: Path, run_id: str) -> str | None:
    """The run that resumed this one, if any (run ids sort by start time: only later runs
    are read, each its first line alone)."""
    for folder in sorted(runs.iterdir()):
        if folder.name <= run_id:
            continue
        try:
            with (folder / EVENTS).open("rb") as handle:
                first = loads(handle.readline(1 << 16))
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(first, dict) and first.get("resumed_from") == run_id:
            return folder.name
    return None


def _refuse_unknown(origin: Origin, crew: Crew) -> None:
    """Stop before anything runs when a side effect may or may not have happened."""
    unknown = [e for e in origin.in_flight() if not _honours_key(crew, e)]
    if not unknown:
        return
    lines = "\n".join(f"  {_named(e)}" for e in unknown)
    tools = ", ".join(sorted({e.tool for e in unknown}))
    raise MasError(
        f"run {origin.run_id} stopped with {len(unknown)} side_effect call(s) in flight; "
        f"whether they took effect is unknown:\n{lines}",
        hint=f"check whether they took effect. If {tools} honours its idempotency key, "
        "declare `idempotent: true` on it in the crew file and resume: the call is made again "
        "with the same key. To make it again anyway: mas resume --repeat-in-flight",
    )


def _honours_key(crew: Crew, effect: Effect) -> bool:
    spec = crew.spec.tools.get(effect.tool)
    return spec is not None and spec.idempotent


def _named(effect: Effect) -> str:
    return (
        f"task {effect.task}, tool {effect.tool}, arguments {effect.args_digest}, key {effect.key}"
    )
