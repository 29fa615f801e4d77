"""Big mas logs read by worker processes, one per core: each reads its share of the byte
ranges and sends each range's part back down a pipe of its own."""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from mas_cli.errors import MasError

if TYPE_CHECKING:
    from mas_cli.triage.scan import Job

Part = TypeVar("Part")
HANGUP = {signal.SIGHUP} if hasattr(signal, "SIGHUP") else set()
STOPS = {signal.SIGINT, signal.SIGTERM, *HANGUP}
"""What the command answers (as a Ctrl-C) and its workers must not: they come to the whole
process group from a terminal, and the command then ends its workers itself."""


def run_parallel(
    work: Callable[[Job], Part], jobs: list[Job], workers: int
) -> Generator[Part, None, None]:
    """`work` of each job, in order: worker i does jobs i, i + n, i + 2n, ... and sends each
    part down a pipe of its own as it is done (so few parts are held at once).

    No queue is shared: a worker killed anywhere (a SIGTERM to the process group, the OOM
    killer) cannot leave a lock held for the others or for this process (multiprocessing.Pool
    hung so at its end). A worker ignores a Ctrl-C or a hangup, which this process answers by
    killing them; a SIGTERM ends it at once.

    Raises:
        MasError: a worker ended without sending its parts (killed from outside).
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    count = min(workers, len(jobs))
    pipes: list[Any] = []
    procs: list[Any] = []
    # What this process holds is out of the collector's sight in the forked workers: a
    # collection there would walk (and so copy, page by page) everything they inherited. A
    # worker has this process's handlers until it sets its own: signals wait for that there,
    # and here for the workers to be started.
    gc.freeze()
    before = _mask(signal.SIG_BLOCK, STOPS)
    done = False
    try:
        try:
            for index in range(count):
                reader, writer = context.Pipe(duplex=False)
                share = (work, jobs[index::count], writer)
                proc = context.Process(target=_work, args=share, daemon=True)
                proc.start()
                writer.close()
                pipes.append(reader)
                procs.append(proc)
        finally:
            gc.unfreeze()
            _mask(signal.SIG_SETMASK, before)  # a Ctrl-C that came meanwhile lands here
        for number in range(len(jobs)):
            yield _receive(pipes[number % count], procs[number % count], jobs[number])
        done = True
    finally:
        for proc in procs:
            if not done and proc.is_alive():
                proc.kill()  # its parts are not wanted (a Ctrl-C, or `close()`)
            proc.join()
        for pipe in pipes:
            pipe.close()


def _work(work: Callable[[Job], Part], jobs: list[Job], out: Any) -> None:
    """A worker: its jobs' parts, in order, down its pipe; an error raised, as it was."""
    for sig in STOPS:
        signal.signal(sig, signal.SIG_DFL if sig == signal.SIGTERM else signal.SIG_IGN)
    _mask(signal.SIG_UNBLOCK, STOPS)
    try:
        for job in jobs:
            out.send(work(job))
    except Exception as exc:  # a bug: the command says so, as it would in one process
        out.send(exc if _picklable(exc) else RuntimeError(repr(exc)))
    finally:
        out.close()


def _picklable(exc: Exception) -> bool:
    import pickle

    try:
        pickle.dumps(exc)
    except Exception:
        return False
    return True


def _receive(pipe: Any, proc: Any, job: Job) -> Any:
    try:
        part = pipe.recv()
    except EOFError:
        proc.join()
        code = proc.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        raise MasError(
            f"a worker process reading {job.path} ended before its part was read ({how})",
            hint="was it stopped from outside, or out of memory? run the command again",
        ) from None
    if isinstance(part, Exception):
        raise part
    return part


def _mask(how: int, signals: set[signal.Signals] | set[int]) -> set[int]:
    """`pthread_sigmask`, which Windows lacks (nothing is blocked there); the mask before."""
    if not hasattr(signal, "pthread_sigmask"):
        return set()
    return set(signal.pthread_sigmask(how, signals))
