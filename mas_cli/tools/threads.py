"""Daemon threads for function tools, kept for the next call once idle.

A tool call runs on a thread of its own so user code never blocks the run's event loop (see
`function._invoke`). Starting a thread per call cost about as much as the rest of the call's
orchestration, so a thread that finished its call waits for the next one. The guarantees of a
thread per call stay: every thread is a daemon, never joined, so a call abandoned at its
timeout keeps its thread busy until the function returns (or for good) and never holds up the
end of the run; a call never waits for a busy thread, a new one is started instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from queue import SimpleQueue

KEEP_IDLE = 16
"""Idle threads kept at most; one more that finishes its call ends."""

Job = Callable[[], None]


class Workers:
    """Idle daemon threads, each waiting for its next job on a queue of its own."""

    def __init__(self, keep: int = KEEP_IDLE) -> None:
        self._keep = keep
        self._idle: list[SimpleQueue[Job]] = []
        self._lock = threading.Lock()

    def run(self, job: Job, name: str) -> None:
        """Start `job` at once on an idle thread, or on a new one; `name` names the thread."""
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name=name, daemon=True).start()
        inbox.put(lambda: _named(name, job))

    def _serve(self, inbox: SimpleQueue[Job]) -> None:
        while True:
            job = inbox.get()
            with contextlib.suppress(BaseException):  # a job reports its own outcome
                job()
            with self._lock:
                if len(self._idle) >= self._keep:
                    return
                self._idle.append(inbox)


def _named(name: str, job: Job) -> None:
    threading.current_thread().name = name
    job()


WORKERS = Workers()
"""The process's tool threads (a fork's child gets its own: see below)."""


def _after_fork() -> None:
    global WORKERS  # noqa: PLW0603 (the parent's idle threads do not exist in a forked child)
    WORKERS = Workers()


os.register_at_fork(after_in_child=_after_fork)
