"""Ctrl-C and SIGTERM at any moment of any command: exit 130 (or the command's own code, when it
had ended), never a traceback, never an "Exception ignored" message.

The sweep sends the signal at small delays after Python has started running the program, so
it lands while `mas` imports (before any command's error boundary exists), inside the command,
and in the exit. It starts counting from a launcher that says when it is about to import `mas`
(as a console script does): a signal before that lands in the interpreter's own start-up
(`site`) or in the installer's script, which no code of `mas` can answer. One that lands there
all the same (the launcher's import statement itself, on a busy machine) kills the process by
the signal, as Python does, with the interpreter's traceback: allowed, so long as no function
of `mas` is in it (the body of the entry's module may be: it imports os and sys, and `entry`
has not run yet).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAUD = str(ROOT / "crews/fraud-review/crew.yaml")
LAUNCH = "import os, sys; os.write({fd}, b'.'); from mas_cli.cli import entry; sys.exit(entry())"
DELAYS = [i * 0.002 for i in range(20)]  # 0 to 38 ms: importing, parsing, the command itself
SWALLOWED = re.compile(
    r"Exception ignored in: <function _get_module_lock\.<locals>\.cb at 0x[0-9a-f]+>\n"
    r"Traceback \(most recent call last\):\n"
    r'  File "<frozen importlib\._bootstrap>", line \d+, in cb\n'
    r"KeyboardInterrupt: ?\n"
)
"""Python's own default SIGINT handler raising inside the import system's weakref callback,
which Python reports and swallows (the command goes on). mas keeps that handler, since
asyncio.run answers Ctrl-C only under it; its SIGTERM handler waits for the callback to end."""


_MAS_FRAME = re.compile(r'File "[^"]*mas_cli[^"]*", line \d+, in (\S+)')


def _in_mas_functions(err: str) -> list[str]:
    """The functions of mas in a traceback. Only module bodies may be there: a signal on a
    loaded machine can land while the console script imports the entry's module (os and sys
    only, a millisecond), or at `entry`'s first instruction, before its `try` can answer."""
    started = err.count("in entry\n    def entry(")  # at its first instruction, before `try`
    names = [name for name in _MAS_FRAME.findall(err) if name != "<module>"]
    return names[started:] if names[:started] == ["entry"] * started else names


def _signalled(args: list[str], sig: signal.Signals, delay: float, cwd: Path) -> tuple[int, str]:
    """Start mas with `args`, send `sig` `delay` s after it starts importing mas; its exit and
    stderr."""
    read, write = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH.format(fd=write), *args],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "MAS_HOME": str(cwd / ".mas"), "PYTHONUNBUFFERED": ""},
    )
    os.close(write)
    os.read(read, 1)  # the launcher is about to import mas
    os.close(read)
    time.sleep(delay)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    return process.returncode, err.decode("utf-8", "replace")


@pytest.mark.parametrize(
    "args",
    [
        ["runs"],  # the fast path, no Typer
        ["init", "{tmp}/crew"],  # through Typer and click
        ["run", FRAUD, "--offline"],  # the run's own handlers
    ],
)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_at_any_moment_exits_130_without_a_traceback(
    tmp_path: Path, args: list[str], sig: signal.Signals
) -> None:
    codes = []
    for n, delay in enumerate(DELAYS):
        where = tmp_path / str(n)
        where.mkdir()
        argv = [a.replace("{tmp}", str(where)) for a in args]
        code, err = _signalled(argv, sig, delay, where)
        if sig == signal.SIGINT:
            err = SWALLOWED.sub("", err)
        if code == -sig:  # it landed before `entry` ran: the interpreter's, not ours
            assert not _in_mas_functions(err), (delay, err)
            continue
        assert "Traceback" not in err, (delay, err)
        assert "Exception ignored" not in err, (delay, err)
        assert "Aborted" not in err, (delay, err)  # click's answer to Ctrl-C (exit 1)
        assert code in (0, 130), (delay, code, err)  # 0: it had ended before the signal
        codes.append(code)
    # the sweep landed while mas worked (on a loaded machine most may land before it runs)
    assert 130 in codes, codes


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_as_the_command_ends_never_kills_the_process(sig: signal.Signals) -> None:
    """Python resets every handler of ours to the default as it tears itself down; a signal in
    those last milliseconds killed the process (-2, -15) after the command had ended: 42 of 200
    `mas --version` runs signalled just after their output died so. The sweep above counts such a
    death as one that landed before mas ran, so it never saw them."""
    codes = []
    for i in range(60):
        process = subprocess.Popen(
            [sys.executable, "-m", "mas_cli", "--version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        process.stdout.readline()  # its output is written: it is on its way out
        time.sleep((i % 10) / 2000)
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
        assert b"Traceback" not in err, err
        codes.append(process.returncode)
    assert set(codes) <= {0, 130}, codes


@pytest.mark.parametrize("args", [["runs"], ["validate", FRAUD], ["run", "--help"]])
def test_msgspec_is_imported_with_ctrl_c_held_back(tmp_path: Path, args: list[str]) -> None:
    """A Ctrl-C that lands inside msgspec's own import leaves it broken: the first decoder built
    later crashes the interpreter (SIGSEGV, no traceback; `mas runs` signalled in its first 50 ms
    died so 9 times in 200). mas imports it, before anything else does, with SIGINT and SIGTERM
    blocked; a signal that came meanwhile is delivered right after."""
    script = textwrap.dedent(
        f"""
        import signal, sys
        seen = []

        class Watch:
            @staticmethod
            def find_spec(name, path=None, target=None):
                if name == "msgspec":
                    seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
                return None

        sys.meta_path.insert(0, Watch)
        from mas_cli.cli import main
        sys.argv = ["mas", *{args!r}]
        try:
            main()
        except SystemExit:
            pass
        assert len(seen) == 1, seen
        assert {{signal.SIGINT, signal.SIGTERM}} <= seen[0], seen
        assert not signal.pthread_sigmask(signal.SIG_BLOCK, []), "left blocked"
        print("checked")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "MAS_HOME": str(tmp_path / ".mas")},
        timeout=120,
    )
    assert done.stdout.strip().endswith("checked"), done.stderr


@pytest.mark.parametrize(("loaded", "finalized"), [("", True), ("import temporalio", False)])
def test_a_temporal_command_exits_without_the_interpreters_finalization(
    tmp_path: Path, loaded: str, finalized: bool
) -> None:
    """The Temporal SDK's core threads can call into Python while the interpreter finalizes,
    aborting a command that had ended (`Fatal Python error: PyGILState_Release`, exit -6, on
    `mas worker` with a bad namespace). With temporalio loaded, mas exits once its exit handlers
    have run, before finalization; other commands end as before."""
    script = textwrap.dedent(
        f"""
        import atexit, os, sys, threading, time
        {loaded}

        def late():  # a thread the interpreter's finalization waits for; os._exit does not
            time.sleep(0.5)
            os.write(2, b"FINALIZED\\n")

        threading.Thread(target=late).start()
        atexit.register(lambda: sys.stderr.write("EXIT HANDLERS RAN\\n"))
        from mas_cli.cli import entry
        sys.argv = ["mas", "--version"]
        entry()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mas ")
    assert "EXIT HANDLERS RAN" in done.stderr
    assert ("FINALIZED" in done.stderr) is finalized, done.stderr
