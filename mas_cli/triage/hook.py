"""`--on-finding CMD`: a command run with each finding as JSON on its standard input.

The command is split like a shell would split it (`shlex`) and run without a shell: a finding's
text, which comes from a log anyone may have written, never reaches a command line. Write
`sh -c '...'` to have a shell. It runs with the user's own environment (a pager needs its own
token, which an allow-list would drop) and nothing more: `mas triage` holds no key of its own.
It runs on a thread of its own, one at a time in the order findings fire, so following never
waits for it; each run is stopped after TIMEOUT_S, with everything it started (it runs as a
process group of its own). Its failure (not found, a non-zero exit, the timeout) is reported
through `warn` and never stops the follow. Its output is not shown, except the end of what it
wrote to stderr when it fails, with known secrets masked. A Ctrl-C stops the run in progress
and sends no finding still waiting: the user asked to stop, not to wait for every page.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from mas_cli.errors import UsageError
from mas_cli.redact import Secrets
from mas_cli.words import plural

TIMEOUT_S = 10.0
QUEUED = 100  # findings waiting for the command; past that they are dropped (and said)
STOP_S = 2.0  # at Ctrl-C, the time the command in progress gets to end on SIGTERM
_STOP = object()


def parse_command(command: str) -> list[str]:
    """The argv of an --on-finding value.

    Raises:
        UsageError: it is empty or its quotes do not close.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(
            f"--on-finding {command!r} cannot be split into words ({exc})",
            hint="close the quotes, or put the command in a script and give its path",
        ) from None
    if not argv:
        raise UsageError(
            "--on-finding is empty", hint="give a command, e.g. --on-finding ./page.sh"
        )
    return argv


class Hook:
    """Runs the command for each finding handed to `send`, in order, on its own thread."""

    def __init__(
        self, argv: list[str], warn: Callable[[str], None], timeout_s: float = TIMEOUT_S
    ) -> None:
        self.argv, self.warn, self.timeout_s = argv, warn, timeout_s
        self.secrets = Secrets.from_environment()
        self.waiting: queue.Queue[Any] = queue.Queue(QUEUED)
        self.dropped = 0
        self.stopping = False
        self.lock = threading.Lock()
        self.current: subprocess.Popen[bytes] | None = None
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        """Queue one finding (dropped, and counted, when the command cannot keep up)."""
        try:
            self.waiting.put_nowait(self.secrets.scrub(json.dumps(payload)) + "\n")
        except queue.Full:
            self.dropped += 1

    def close(self, stop: bool = False) -> None:
        """Wait for the queued runs (each bounded by the timeout), then stop the thread. With
        `stop` (Ctrl-C): stop the run in progress and drop the findings still queued."""
        if stop:
            self.stopping = True
            self.dropped += self._drain()
            self._signal_current(signal.SIGTERM)
        self.waiting.put(_STOP)
        self.thread.join(STOP_S if stop else None)
        if self.thread.is_alive():  # it did not end on SIGTERM
            self._signal_current(signal.SIGKILL)
            self.thread.join()
        if self.dropped:
            why = "stopped (Ctrl-C)" if stop else "the command could not keep up"
            self.warn(f"--on-finding: {plural(self.dropped, 'finding')} not sent: {why}")

    def _drain(self) -> int:
        count = 0
        while True:
            try:
                self.waiting.get_nowait()
            except queue.Empty:
                return count
            count += 1

    def _signal_current(self, sig: signal.Signals) -> None:
        with self.lock:
            if self.current is not None:
                _signal_group(self.current, sig)

    def _work(self) -> None:
        while (item := self.waiting.get()) is not _STOP:
            problem = self.run(item)
            if problem and not self.stopping:
                self.warn(self.secrets.scrub(f"--on-finding {shlex.join(self.argv)}: {problem}"))

    def run(self, stdin: str) -> str:
        """Run the command once; what went wrong, or "" when it exited 0."""
        try:
            with self.lock:
                if self.stopping:
                    return ""
                # the user's own command, as argv: no shell; a group of its own, so that a
                # timeout or a stop ends whatever it started too
                process = self.current = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    process_group=0,
                )
        except OSError as exc:
            return f"cannot be run ({exc.strerror}); check the path and that it is executable"
        try:
            _out, err = process.communicate(stdin.encode(), timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()  # not its pipes: something it started outside its group may hold them
            return (
                f"stopped after {self.timeout_s:g} s (make it return sooner, or run it in "
                "the background)"
            )
        finally:
            with self.lock:
                self.current = None
            for pipe in (process.stdin, process.stdout, process.stderr):
                with contextlib.suppress(OSError):
                    pipe.close()  # type: ignore[union-attr]
        if process.returncode:
            said = err.decode("utf-8", "replace").strip()[-300:]
            return f"exited {process.returncode}" + (f": {said}" if said else "")
        return ""


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the command's process group (it leads it): it and whatever it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
