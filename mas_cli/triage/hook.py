"""`--on-finding CMD`: a command run with each finding as JSON on its standard input.

The command is split like a shell would split it (`shlex`) and run without a shell: a finding's
text, which comes from a log anyone may have written, never reaches a command line. Write
`sh -c '...'` to have a shell. It runs with the user's own environment (a pager needs its own
token, which an allow-list would drop) and nothing more: `mas triage` holds no key of its own.
It runs on a thread of its own, one at a time in the order findings fire, so following never
waits for it; each run is stopped after TIMEOUT_S. Its failure (not found, a non-zero exit, the
timeout) is reported through `warn` and never stops the follow. Its output is not shown, except
the end of what it wrote to stderr when it fails, with known secrets masked.
"""

from __future__ import annotations

import json
import queue
import shlex
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from mas_cli.errors import UsageError
from mas_cli.redact import Secrets
from mas_cli.words import plural

TIMEOUT_S = 10.0
QUEUED = 100  # findings waiting for the command; past that they are dropped (and said)
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
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        """Queue one finding (dropped, and counted, when the command cannot keep up)."""
        try:
            self.waiting.put_nowait(self.secrets.scrub(json.dumps(payload)) + "\n")
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Wait for the queued runs (each bounded by the timeout), then stop the thread."""
        self.waiting.put(_STOP)
        self.thread.join()
        if self.dropped:
            self.warn(
                f"--on-finding: {plural(self.dropped, 'finding')} not sent: the command could "
                "not keep up"
            )

    def _work(self) -> None:
        while (item := self.waiting.get()) is not _STOP:
            problem = self.run(item)
            if problem:
                self.warn(self.secrets.scrub(f"--on-finding {shlex.join(self.argv)}: {problem}"))

    def run(self, stdin: str) -> str:
        """Run the command once; what went wrong, or "" when it exited 0."""
        try:
            done = subprocess.run(  # the user's own command, as argv: no shell
                self.argv,
                input=stdin.encode(),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return (
                f"stopped after {self.timeout_s:g} s (make it return sooner, or run it in "
                "the background)"
            )
        except OSError as exc:
            return f"cannot be run ({exc.strerror}); check the path and that it is executable"
        if done.returncode:
            said = done.stderr.decode("utf-8", "replace").strip()[-300:]
            return f"exited {done.returncode}" + (f": {said}" if said else "")
        return ""
