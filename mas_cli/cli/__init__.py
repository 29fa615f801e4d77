"""The `mas` command line. Thin: parse, call the core, render. Nothing imports this package.

`main` answers `mas --version` before Typer and rich load, `mas --help` before Typer loads
(cli/quickhelp.py, from the command table in cli/commands.py), and the read-only commands
without Typer when their options parse plainly (cli/fast.py); `app` is imported on first use.
"""

import os  # os and sys are loaded before any program runs: importing them costs nothing
import sys

# No `typing`, `types` or `__future__` at run time: this module is imported before `entry` can
# answer a Ctrl-C (which would then be a traceback), so it imports nothing that takes time
# (typing brings re and enum: ~20 ms). Annotations naming typing's names are quoted.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from types import FrameType, ModuleType
    from typing import Any, NoReturn, TextIO

    from mas_cli.cli.app import app

__all__ = ["app", "entry", "main"]


def entry() -> "NoReturn":
    """The `mas` program (console script and `python -m mas_cli`): `main`, then its exit.

    A Ctrl-C or SIGTERM at any moment ends it with 130 and no traceback: while it imports
    (before any command's error boundary is in place), during the command, and once the command
    is done and its files are closed, where a Ctrl-C would land in the interpreter's exit, which
    no handler of ours can answer (a traceback, or a death by signal that looks like a failure).
    """
    sigint_ignored = False
    try:
        import atexit  # built in: nothing to load

        atexit.register(_ignore_signals_at_exit)  # the first registered: it runs last
        import signal  # enum and all: ~5 ms, inside the try

        from mas_cli import collector

        # SIGINT ignored from the start (a job a script put in the background) stays ignored.
        sigint_ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        for sig in _ends(signal):  # SIGTERM and SIGHUP as Ctrl-C, for every command
            if signal.getsignal(sig) is signal.SIG_DFL:  # not `nohup`'s ignored SIGHUP
                signal.signal(sig, _raise_interrupt)
        collector.start()
        # pydantic looks for plugins in every installed package's entry points when it builds
        # its first validator: about 11 ms in a venv of 90 packages, more in a larger one.
        # Plugins observe validation (logfire's); mas's crew and event models, and the SDKs'
        # responses, are not what anyone observes. A value the user set is kept (`=` empty:
        # plugins load). Command tools and MCP servers get the allow-listed environment only.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        if None in (sys.stdin, sys.stdout, sys.stderr):
            _open_closed_streams()
        code = main()
        _exit_on_signals(sigint_ignored)
    except (KeyboardInterrupt, RuntimeError) as exc:  # no boundary answered it: while loading
        _exit_on_signals(sigint_ignored)
        if not interrupted(exc):
            raise
        _say("interrupted\n")
        code = EXIT_INTERRUPTED
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    from mas_cli import collector

    collector.skip_final_walk()
    if "temporalio" in sys.modules:
        _leave(code)
    sys.exit(code)


def _leave(code: int) -> "NoReturn":
    """Exit without the interpreter's finalization, its exit handlers run first as `sys.exit`
    would run them. The Temporal SDK's core runs threads of its own that can still call into
    Python while it finalizes, which aborts the process after the command has ended (`Fatal
    Python error: PyGILState_Release`, exit -6; seen on `mas worker` with a bad namespace,
    which had said so and was exiting 2). Only Temporal's commands load it."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    os._exit(code)


def interrupted(exc: BaseException) -> bool:
    """A KeyboardInterrupt, or one Python 3.11 wrapped in a RuntimeError (raised while a class
    being made called `__set_name__`: `Error calling __set_name__ on 'cached_property' ...`)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, KeyboardInterrupt):
            return True
        cause = cause.__cause__
    return False


def _exit_on_signals(sigint_ignored: bool) -> None:
    """From here on a Ctrl-C or SIGTERM ends the process with 130 at once: the command is done
    (or interrupted already), and nothing may raise in the interpreter's exit."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN if sigint_ignored else _interrupted)
    for sig in _ends(signal):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _interrupted)
    alarm = getattr(signal, "SIGALRM", None)  # not on Windows
    if alarm is not None and signal.getsignal(alarm) is _raise_interrupt:  # a SIGTERM on its way
        signal.signal(alarm, _interrupted)


def _ignore_signals_at_exit() -> None:
    """The last thing before the interpreter tears itself down. It then puts back the default
    action of every signal a Python handler answered, so a Ctrl-C or SIGTERM in its last
    milliseconds would kill the process (exit -2 or -15) after the command had ended: ignored,
    they leave the command's own exit code. (A timer `_raise_interrupt` set is stopped too.)"""
    import signal

    if hasattr(signal, "setitimer"):  # not on Windows, nor SIGALRM
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
    for sig in (signal.SIGINT, *_ends(signal)):
        signal.signal(sig, signal.SIG_IGN)


def _open_closed_streams() -> None:
    """A standard stream started closed (`mas runs >&-`) reads and writes /dev/null: no
    command expects it missing, and a file mas opens must not take its descriptor (the run log
    would get whatever is printed)."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is None:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if opened != fd:  # not closed after all (the interpreter could not wrap it)
                os.close(opened)
                continue
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115


def _flush(stream: "TextIO | None") -> None:
    """Flush what is left; a reader gone (`2>&1 | head -1`) gets the rest sent to /dev/null, or
    the interpreter's own flush at exit would fail again and exit 120."""
    if stream is None:  # started with the descriptor closed (`2>&-`)
        return
    try:
        stream.flush()
    except Exception:  # a reader gone: nothing is left to tell it
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except Exception:  # no descriptor to point anywhere: nothing is left to flush to
            return


def _ends(module: "ModuleType") -> "tuple[signal.Signals, ...]":
    """The signals answered as a Ctrl-C besides SIGINT: SIGTERM, and SIGHUP (the terminal or ssh
    session the command was started from went away) where there is one. The `signal` module is
    passed in: it is imported inside `entry`'s `try`, as every import there."""
    hangup = getattr(module, "SIGHUP", None)
    return (module.SIGTERM, hangup) if hangup is not None else (module.SIGTERM,)


def _raise_interrupt(_sig: int, frame: "FrameType | None") -> None:
    """SIGTERM as a Ctrl-C. Not inside the import system's weakref callback, where Python would
    print "Exception ignored" and go on: a timer tries again a millisecond later, once it has
    returned. (Not a signal sent to ourselves: it would land in this handler, at once.)"""
    code = frame.f_code if frame is not None else None
    if code is not None and code.co_name == "cb" and "importlib" in code.co_filename:
        import signal

        signal.signal(signal.SIGALRM, _raise_interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.001)
        return
    raise KeyboardInterrupt


def _say(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:  # stderr gone: nothing is left to tell
        pass


def _interrupted(_sig: int, _frame: object) -> "NoReturn":
    os._exit(EXIT_INTERRUPTED)


def main() -> int:
    """The command asked for; its exit code."""
    if sys.argv[1:] == ["--version"]:
        return _version()
    if sys.argv[1:] in (["--help"], ["-h"]):
        return _help()
    _load_msgspec()
    from mas_cli.cli import fast

    code = fast.run(sys.argv[1:])
    if code is not None:
        return code
    from mas_cli.cli.app import main as run

    return run()


def _load_msgspec() -> None:
    """Import msgspec with SIGINT and SIGTERM blocked; one that came meanwhile is delivered just
    after. A Ctrl-C that lands inside msgspec's own import leaves it broken, and the first
    decoder built later crashes the interpreter (SIGSEGV, no traceback): 10 of 150
    `import mas_cli.events.logged` with a Ctrl-C in their first 80 ms died so, and `mas runs`
    9 of 200; 0 with the import blocked. Every command but --version and --help loads it."""
    import signal

    held = {signal.SIGINT, *_ends(signal)}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        import msgspec  # noqa: F401 (loaded here, used by the command)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _version() -> int:
    from mas_cli import __version__

    try:
        sys.stdout.write(f"mas {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `mas --version | true`: the reader left, not a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # `mas --version > /dev/full`
        return _unwritten(exc)
    return 0


def _help() -> int:
    from mas_cli.cli import quickhelp
    from mas_cli.cli.streams import degrade_streams

    degrade_streams()
    try:
        quickhelp.render()
    except BrokenPipeError:  # `mas --help | head -3`: the reader left, not a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # `mas --help > /dev/full`
        return _unwritten(exc)
    return 0


def _unwritten(exc: OSError) -> int:
    """Standard output refused what was written: said on stderr as any command says it."""
    from mas_cli.cli.boundary import exit_code

    code = exit_code(exc)
    return 1 if code is None else code


EXIT_INTERRUPTED = 130  # cli/exits.py's, not imported: this module loads nothing before entry


class _Package(type(sys)):  # type: ignore[misc]  # types.ModuleType, without importing types
    """`mas_cli.cli.app` is the Typer app, loaded on first use (a submodule shares its name)."""

    @property
    def app(self) -> "Any":
        from mas_cli.cli.app import app as typer_app

        return typer_app

    @app.setter
    def app(self, _module: "Any") -> None:
        """The import system names the submodule here; the name stays the Typer app's."""


sys.modules[__name__].__class__ = _Package
