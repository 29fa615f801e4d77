"""Command tools: an argv template run without a shell; nothing it starts outlives the call."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgspec import Struct

from mas_cli.errors import ToolError
from mas_cli.redact import Secrets
from mas_cli.spec.models import JsonSchema, ToolSpec
from mas_cli.spec.toolchecks import resolve_program, unfound_program
from mas_cli.tools.base import (
    IDEMPOTENCY_ENV,
    IDEMPOTENCY_KEY,
    ToolResult,
    cap_output,
    checked_call,
    object_schema,
    parts_digest,
    schema_from_spec,
    timed_out,
)
from mas_cli.tools.environment import tool_environment
from mas_cli.tools.spawner import Spawned, spawn

CHUNK = 64 * 1024
STDERR_KEPT = 8 * 1024
"""Bytes of stderr kept (the end of it): enough for the last lines an error message quotes."""
STDERR_LINES = 3
REAP_GRACE_S = 2.0
"""After the group is killed, how long its pipes may take to reach end-of-file."""
REAPER = Path(__file__).with_name("reaper.py") if sys.platform == "linux" else None
"""Runs each command on Linux so that its escaped descendants die with it (see reaper.py)."""


@dataclass(frozen=True)
class CommandTool:
    """A tool backed by an argv template, run in the crew file's folder with stdin /dev/null."""

    name: str
    spec: ToolSpec
    description: str
    parameters: JsonSchema
    argv: tuple[str, ...]
    """The template as written; argv[0] is replaced by `program`."""
    program: str
    """argv[0] resolved: mas's own Python, a file next to the crew, or a PATH lookup."""
    cwd: Path
    env: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    """The whole environment the command gets (see tools.environment): never mas's own."""

    def fingerprint(self) -> str:
        """sha256 hex of the argv template, the files it names (path, size, mtime), spec.version.

        Besides the executable, a fixed argument naming a file next to the crew (`kb.py` in
        `[python, kb.py, ...]`) counts: it is the tool's code as much as the executable is.
        """
        files = [self.program, *(a for a in self.argv[1:] if "{" not in a)]
        stamps = [stamp(self.cwd / f) for f in files if (self.cwd / f).is_file()]
        return parts_digest("command", json.dumps(self.argv), *stamps, self.spec.version or "")

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Validate the arguments, then run the command under spec.timeout_s."""
        return await checked_call(self, arguments, self._run)

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        filled = _fill(self.argv[1:], arguments)
        if isinstance(filled, ToolResult):
            return filled
        argv = [self.program, *filled]
        try:
            proc = await _start(argv, self._environment(), self.cwd)
        except OSError as exc:
            error = f"cannot start {self.program}: {exc}"
            return ToolResult(ok=False, output=f"error: {error}", error=error)
        try:
            captured = await _supervise(proc, self.spec.timeout_s, self.spec.max_output_bytes)
        finally:
            if isinstance(proc, Spawned):
                proc.close()
        if captured is None:
            return timed_out(self.spec.timeout_s, exit_code=proc.returncode)
        return _result(captured, proc.returncode, self.spec.max_output_bytes)

    def _environment(self) -> dict[str, str]:
        """The allow-listed environment, plus a side_effect call's idempotency key."""
        key = IDEMPOTENCY_KEY.get()
        return {**self.env, IDEMPOTENCY_ENV: key} if key else dict(self.env)


def load_command_tool(
    name: str, spec: ToolSpec, base_dir: Path, keys: Secrets | None = None
) -> CommandTool:
    """Resolve a command's program and describe its parameters (the placeholders, when not given).

    Raises:
        ToolError: the program cannot be found, or a placeholder is malformed.
    """
    assert spec.command is not None
    program = resolve_program(spec.command[0], base_dir)
    if program is None:
        why, fix = unfound_program(spec.command[0], base_dir)
        raise ToolError(f"tools.{name}: {why}", hint=fix)
    parameters = (
        schema_from_spec(spec.parameters)
        if spec.parameters is not None
        else _placeholder_schema(spec.command, f"tools.{name}")
    )
    return CommandTool(
        name=name,
        spec=spec,
        description=spec.description,
        parameters=parameters,
        argv=tuple(spec.command),
        program=program,
        cwd=base_dir,
        env=tool_environment(spec.env, keys or Secrets()),
    )


def _placeholder_schema(argv: list[str], where: str) -> JsonSchema:
    """Without `parameters:`, each placeholder is a required string."""
    names: dict[str, JsonSchema] = {}
    for arg in argv[1:]:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(arg) if f]
        except ValueError as exc:
            raise ToolError(
                f"{where}: bad placeholder in '{arg}': {exc}",
                hint="write {{ and }} for literal braces",
            ) from None
        for field in fields:
            names.setdefault(re.split(r"[.\[]", field)[0], {"type": "string"})
    return object_schema(names, list(names))


def _fill(templates: tuple[str, ...], arguments: dict[str, Any]) -> list[str] | ToolResult:
    """The argv after the program, or the bad-arguments result saying which placeholder failed."""
    try:
        filled = [render(arg, arguments) for arg in templates]
    except KeyError as exc:
        error = f"bad arguments: {{{exc.args[0]}}} has no value (give {exc.args[0]}, or a default)"
    except (IndexError, AttributeError, ValueError, TypeError) as exc:
        error = f"bad arguments: the command cannot be filled in: {exc}"
    else:
        problem = _unsafe(templates, filled, arguments)
        if problem is None:
            return filled
        error = f"bad arguments: {problem}"
    return ToolResult(
        ok=False, output=f"error: {error}. Fix the arguments and call again.", error=error
    )


def _unsafe(templates: tuple[str, ...], filled: list[str], arguments: dict[str, Any]) -> str | None:
    """Why the filled argv must not run: a NUL byte (no argv can hold one), or a value that
    stands alone as an argument and starts with `-`, so the program would read it as an option.

    A value embedded in a longer element (`--query={query}`), a number (`-5`), or anything
    after a `--` element (the end of options) is safe.
    """
    options_end = False
    for template, arg in zip(templates, filled, strict=True):
        if "\0" in arg:
            return f"{template!r} would hold a NUL byte, which no command argument can"
        name = _lone_placeholder(template)
        value = arguments.get(name) if name else None
        if name and not options_end and arg.startswith("-") and not _is_number(value):
            return (
                f"{{{name}}} is {arg[:40]!r}, which the program would read as an option "
                "(give a value that does not start with '-')"
            )
        options_end = options_end or template == "--"
    return None


def _lone_placeholder(template: str) -> str | None:
    match = re.fullmatch(r"\{(\w+)\}", template)
    return match.group(1) if match else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _ArgvFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return format(value, format_spec) if format_spec else as_argument(value)


def render(template: str, arguments: dict[str, Any]) -> str:
    """One argv element with its `{param}` placeholders filled: never parsed by a shell."""
    return _ArgvFormatter().vformat(template, (), arguments)


def as_argument(value: Any) -> str:
    """A value as argv text: strings as they are, numbers and booleans by str(), the rest JSON."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def stamp(path: Path) -> str:
    """`path:size:mtime_ns` of a file (`path:missing` when it cannot be read)."""
    try:
        info = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


# --- running: read both pipes to the end, kill the group when time is up --------------------

Process = asyncio.subprocess.Process | Spawned


async def _start(argv: list[str], env: dict[str, str], cwd: Path) -> Process:
    """The command, started by this process's reaper server (a fork per call), else under a
    reaper of its own (a new interpreter per call), else (not Linux) in a group of its own.

    Raises:
        OSError: it cannot be started.
    """
    spawned = await spawn(argv, env, cwd) if REAPER else None
    if spawned is not None:
        return spawned
    return await asyncio.create_subprocess_exec(
        *reaped(argv),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,  # the child leads its own group: one kill takes all
    )


class _Captured(Struct, frozen=True):
    stdout: bytes
    """At most max_output_bytes of stdout."""
    stdout_total: int
    stderr_tail: bytes


async def _supervise(proc: Process, timeout_s: float, max_bytes: int) -> _Captured | None:
    """Collect the process's output, or kill its group at the timeout (None) or on cancellation."""
    task = asyncio.ensure_future(_collect(proc, max_bytes))
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        await _take_down(proc, task)
        raise
    if not done:
        await _take_down(proc, task)
        return None
    return task.result()


async def _collect(proc: Process, max_bytes: int) -> _Captured:
    assert proc.stdout is not None
    assert proc.stderr is not None
    (stdout, total), stderr, _ = await asyncio.gather(
        _read_capped(proc.stdout, max_bytes), _read_tail(proc.stderr), proc.wait()
    )
    return _Captured(stdout, total, stderr)


async def _read_capped(stream: asyncio.StreamReader, max_bytes: int) -> tuple[bytes, int]:
    # Past the cap we keep reading and discard: a child blocked on a full pipe would otherwise
    # look like a hung tool, and a command that prints a lot should still finish its work.
    kept = bytearray()
    total = 0
    while chunk := await stream.read(CHUNK):
        total += len(chunk)
        kept += chunk[: max(0, max_bytes - len(kept))]
    return bytes(kept), total


async def _read_tail(stream: asyncio.StreamReader) -> bytes:
    kept = b""
    while chunk := await stream.read(CHUNK):
        kept = (kept + chunk)[-STDERR_KEPT:]
    return kept


async def _take_down(proc: Process, task: asyncio.Future[_Captured]) -> None:
    """End the command and all it started, then let the readers drain so every pipe closes."""
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        if REAPER:
            proc.send_signal(signal.SIGTERM)  # the reaper kills every descendant, then itself
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    done, _ = await asyncio.wait({task}, timeout=REAP_GRACE_S)
    if not done:
        with contextlib.suppress(ProcessLookupError):
            if isinstance(proc, Spawned):
                proc.kill_group()
            else:
                os.killpg(proc.pid, signal.SIGKILL)
        # A process that left the group (setsid) still holds a pipe open: stop reading it.
        task.cancel()
        await asyncio.wait({task})
        await proc.wait()


def reaped(argv: list[str]) -> list[str]:
    """argv run under the reaper where there is one (Linux): no descendant outlives the call."""
    if not REAPER:
        return argv
    return [sys.executable, "-I", "-S", str(REAPER), str(os.getpid()), "--", *argv]


def _result(captured: _Captured, code: int | None, max_bytes: int) -> ToolResult:
    text, truncated = cap_output(captured.stdout, max_bytes, captured.stdout_total)
    if code == 0:
        return ToolResult(ok=True, output=text, truncated=truncated, exit_code=0)
    lines = captured.stderr_tail.decode("utf-8", errors="replace").strip().splitlines()
    error = f"{_status(code)}: " + "\n".join(lines[-STDERR_LINES:]) if lines else _status(code)
    output = f"error: {error}" + (f"\n{text}" if text else "")
    return ToolResult(ok=False, output=output, error=error, truncated=truncated, exit_code=code)


def _status(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit {code}"
