"""What a function tool prints goes to stderr, never into the crew's output on stdout.

A function tool runs inside mas, on a thread of its own (tools/function.py), and `print()`
writes to the process's sys.stdout, which `mas run` keeps for the crew's output alone
(`mas run crew.yaml -q 2>/dev/null | python -m json.tool`). Once a function tool runs,
sys.stdout and sys.stderr are proxies: a write from any thread but the main one (the tool's,
and threads it starts) goes to stderr with the environment's secret-looking values masked;
the main thread's writes pass through. A write to a file descriptor itself (os.write) is not
seen.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO, cast

from mas_cli.redact import Secrets


class _Guarded:
    """A standard stream as it was, but for writes from threads other than the main one."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._secrets = Secrets.from_environment()

    def write(self, text: str) -> int:
        if threading.current_thread() is threading.main_thread():
            return self._stream.write(text)
        err = sys.stderr
        target = err._stream if isinstance(err, _Guarded) else err
        target.write(self._secrets.scrub(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_stdout() -> None:
    """Route what function tools print to stderr, masked (idempotent; a stream replaced since,
    as a test runner does, is wrapped again)."""
    if sys.stdout is not None and not isinstance(sys.stdout, _Guarded):
        sys.stdout = cast("TextIO", _Guarded(sys.stdout))
    if sys.stderr is not None and not isinstance(sys.stderr, _Guarded):
        sys.stderr = cast("TextIO", _Guarded(sys.stderr))
