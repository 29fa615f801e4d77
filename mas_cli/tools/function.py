"""Python function tools: `file.py:func` next to the crew file, or `package.module:func`.

asyncio is imported where a call runs, not here: `mas validate` loads tool files with no event
loop, and asyncio's import (it loads ssl) is a sixth of its start-up.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import inspect
import itertools
import json
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from msgspec import Struct

from mas_cli.errors import ToolError
from mas_cli.spec.models import JsonSchema, ToolSpec
from mas_cli.spec.toolchecks import is_file_ref, split_function_ref
from mas_cli.tools.base import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_PARAM,
    ToolResult,
    cap_output,
    checked_call,
    parts_digest,
    schema_from_spec,
    timed_out,
)
from mas_cli.tools.hints import first_paragraph, function_schema
from mas_cli.tools.streams import guard_stdout

_module_numbers = itertools.count(1)


class FunctionTool(Struct, frozen=True):
    """A tool backed by a Python function, sync or async, run in a thread of its own."""

    name: str
    spec: ToolSpec
    description: str
    parameters: JsonSchema
    func: Callable[..., Any]
    code_digest: str
    """sha256 of the function's source and its module file, taken when it was imported."""

    def fingerprint(self) -> str:
        """sha256 hex of the function's source, its module file's bytes, and spec.version."""
        return parts_digest("function", self.code_digest, self.spec.version or "")

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Validate the arguments, then run the function under spec.timeout_s."""
        return await checked_call(self, arguments, self._run)

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        import asyncio

        guard_stdout()  # what the tool prints goes to stderr, not into the crew's output
        if _declares_key(self.func):  # a side_effect call's key (None outside one)
            arguments = {**arguments, IDEMPOTENCY_PARAM: IDEMPOTENCY_KEY.get()}
        try:
            value = await asyncio.wait_for(_invoke(self.func, arguments), self.spec.timeout_s)
        except TimeoutError:
            return timed_out(self.spec.timeout_s)
        except Escaped as escaped:
            return _raised(escaped.raised)
        except Exception as exc:
            return _raised(exc)
        try:
            text, truncated = _capped_text(value, self.spec.max_output_bytes)
        except Exception as exc:  # a cycle, a 5,000-digit int, tuple keys, a __str__ that raises
            return _unwritable(exc)
        return ToolResult(ok=True, output=text, truncated=truncated)


def _declares_key(func: Callable[..., Any]) -> bool:
    try:
        return IDEMPOTENCY_PARAM in inspect.signature(func).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def load_function_tool(
    name: str, spec: ToolSpec, base_dir: Path, modules: dict[str, ModuleType]
) -> FunctionTool:
    """Import the function a ToolSpec names and describe it for the model.

    `modules` is shared across one crew's tools, so tools from one file share one import.

    Raises:
        ToolError: the reference is malformed, the module cannot be imported, or has no such
            callable, or its type hints have no JSON Schema form.
    """
    assert spec.function is not None
    where = f"tools.{name}"
    parts = split_function_ref(spec.function)
    if parts is None:
        raise ToolError(
            f"{where}: '{spec.function}' is not of the form file.py:function "
            "or package.module:function"
        )
    target, attr = parts
    module = _module(target, base_dir, modules, where)
    func = getattr(module, attr, None)
    if not callable(func):
        what = "has no function" if func is None else "has a non-callable"
        raise ToolError(f"{where}: {target} {what} '{attr}'", hint=f"define def {attr}(...) there")
    doc = inspect.getdoc(func) or ""
    parameters = (
        schema_from_spec(spec.parameters)
        if spec.parameters is not None
        else function_schema(func, where)
    )
    return FunctionTool(
        name=name,
        spec=spec,
        description=spec.description or first_paragraph(doc),
        parameters=parameters,
        func=func,
        code_digest=_code_digest(func, module),
    )


def _module(target: str, base_dir: Path, modules: dict[str, ModuleType], where: str) -> ModuleType:
    path = (base_dir / target).resolve() if is_file_ref(target) else None
    key = str(path) if path else target
    if key not in modules:
        try:
            modules[key] = _import_file(path) if path else importlib.import_module(target)
        except Exception as exc:
            raise ToolError(
                f"{where}: cannot import {target}: {type(exc).__name__}: {exc}",
                hint="run it with python to see the full error",
            ) from exc
    return modules[key]


def _import_file(path: Path) -> ModuleType:
    """Execute a file as a fresh module under a unique name; its folder is importable meanwhile."""
    name = f"_mas_tool_{path.stem}_{next(_module_numbers)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    # Registered before executing, as the import system does: dataclasses and pickling look it up.
    sys.modules[name] = module
    folder = str(path.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        with contextlib.suppress(ValueError):  # the module took it off sys.path itself
            sys.path.remove(folder)
    return module


def _code_digest(func: Callable[..., Any], module: ModuleType) -> str:
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        source = getattr(func, "__qualname__", repr(func))  # a builtin or C function
    file = getattr(module, "__file__", None)
    try:
        module_bytes = Path(file).read_bytes() if file else b""
    except OSError:
        module_bytes = b""
    return parts_digest(source, module_bytes)


async def _invoke(func: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """Run the function in a daemon thread of its own, and a coroutine it returns on that
    thread's own event loop: user code never runs on the run's loop, so a tool that blocks
    (`time.sleep` in an `async def`) cannot stall the timeouts, the other tasks or Ctrl-C.

    Not asyncio.to_thread: a timed-out call is abandoned, but a thread cannot be killed, and the
    default executor's threads are joined when the loop closes (and at interpreter exit), so one
    hung tool would hang the end of the run. A daemon thread is simply left behind; a coroutine
    that still awaits is cancelled on its own loop, one that blocks runs on until it returns.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()
    cancel_hooks: list[Callable[[], object]] = []

    def settle(outcome: Callable[[Any], None], value: Any) -> None:
        if not future.done():  # cancelled by the timeout: nobody is waiting any more
            outcome(value)

    def work() -> None:
        outcome: Callable[[Any], None]
        try:
            value = context.run(_call_through, func, arguments, cancel_hooks)
        except Exception as exc:
            outcome, value = future.set_exception, exc
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, GeneratorExit, its own
            # Set on the run's loop as they are, asyncio would re-raise them out of the loop
            # and end the whole run (exit 3 for sys.exit(3), a traceback for the others).
            outcome, value = future.set_exception, Escaped(exc)
        else:
            outcome = future.set_result
        # A closed loop means the call was abandoned long ago: nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, outcome, value)

    threading.Thread(
        target=work, name=f"mas-tool-{getattr(func, '__name__', 'call')}", daemon=True
    ).start()
    try:
        return await future
    except asyncio.CancelledError:
        for hook in list(cancel_hooks):
            with contextlib.suppress(RuntimeError):  # its loop has closed: nothing to cancel
                hook()
        raise


def _call_through(
    func: Callable[..., Any], arguments: dict[str, Any], cancel_hooks: list[Callable[[], object]]
) -> Any:
    """In the worker thread: call the function, and run what it returns if it is awaitable."""
    value = func(**arguments)
    if inspect.isawaitable(value):
        import asyncio

        return asyncio.run(_awaited(value, cancel_hooks))
    return value


async def _awaited(awaitable: Awaitable[Any], cancel_hooks: list[Callable[[], object]]) -> Any:
    """Await on the worker's own loop; the caller cancels this task through cancel_hooks."""
    import asyncio

    task = asyncio.current_task()
    assert task is not None
    cancel_hooks.append(functools.partial(task.get_loop().call_soon_threadsafe, task.cancel))
    return await awaitable


class Escaped(Exception):
    """A BaseException a tool raised that is not an Exception (sys.exit, KeyboardInterrupt,
    GeneratorExit), carried to the run's loop as the call's failure."""

    def __init__(self, raised: BaseException) -> None:
        super().__init__(type(raised).__name__)
        self.raised = raised


def _raised(exc: BaseException) -> ToolResult:
    try:
        text = str(exc)
    except Exception:  # a __str__ of its own that raises
        text = "(its message could not be read: str() raised)"
    error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    formatted = "".join(traceback.format_exception(type(exc), exc, _tool_frames(exc.__traceback__)))
    return ToolResult(ok=False, output=f"error: {error}", error=error, traceback=formatted)


def _unwritable(exc: Exception) -> ToolResult:
    """A result the tool returned that JSON cannot hold: the call's failure, not the run's."""
    reason = (
        "nested too deeply" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {exc}"
    )
    error = f"its result cannot be written as JSON ({reason})"
    hint = "return text, numbers, booleans, None, and lists and dicts of them with text keys"
    return ToolResult(ok=False, output=f"error: {error}; {hint}", error=f"{error}; {hint}")


def _tool_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the first frame that is not ours or asyncio's: the tool's own frames."""
    while tb is not None and tb.tb_next is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if not module.startswith(("mas_cli.", "asyncio")):
            break
        tb = tb.tb_next
    return tb


def _capped_text(value: Any, max_bytes: int) -> tuple[str, bool]:
    """The value as text (JSON unless a string), cut at max_bytes: encoded a piece at a time, so
    a huge result is never copied whole (its full size is still counted for the marker)."""
    kept, total = bytearray(), 0
    for piece in _pieces(value):
        data = piece.encode("utf-8", errors="replace")
        total += len(data)
        if len(kept) <= max_bytes:
            kept += data[: max_bytes + 1 - len(kept)]
    return cap_output(bytes(kept), max_bytes, total)


def _pieces(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        for start in range(0, len(value), _PIECE_CHARS):
            yield value[start : start + _PIECE_CHARS]
    else:
        yield from json.JSONEncoder(default=str, ensure_ascii=False).iterencode(value)


_PIECE_CHARS = 1 << 18
