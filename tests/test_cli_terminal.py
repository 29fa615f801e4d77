"""The terminal as a user meets it: clean pipes, narrow terminals, plain streams."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAUD = str(ROOT / "crews/fraud-review/crew.yaml")
SUPPORT = str(ROOT / "crews/support-ticket/crew.yaml")


def _mas(
    *args: str, home: Path, env: dict[str, str] | None = None, out: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """mas in a subprocess, its stdout to `out` (a pipe by default), stderr captured."""
    return subprocess.run(
        [sys.executable, "-m", "mas_cli", *args],
        stdout=out,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        cwd=home,
        env={**os.environ, "MAS_HOME": str(home / ".mas"), **(env or {})},
        timeout=120,
    )


def _closed_pipe(args: list[str], home: Path) -> int:
    """Run mas with a stdout whose reader has gone (`| head -0`), and return its exit code."""
    read, write = os.pipe()
    os.close(read)
    done = _mas(*args, home=home, out=write)
    os.close(write)
    assert "Traceback" not in done.stderr, done.stderr
    assert "internal error" not in done.stderr, done.stderr
    return done.returncode


RUNAWAY = str(ROOT / "crews/runaway-rescoring/crew.yaml")
NARROW = {"COLUMNS": "80"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a finished run and a stopped one."""
    home = tmp_path_factory.mktemp("ran")
    assert _mas("run", FRAUD, "--offline", "-q", home=home).returncode == 0
    assert _mas("run", RUNAWAY, "-q", home=home).returncode == 3
    return home


def test_run_stdout_is_the_output_only(tmp_path: Path) -> None:
    done = _mas("run", FRAUD, "--offline", "-q", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"] in {"approve", "review", "block"}
    assert "── decide (aggregator) ok" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["validate", FRAUD],
        ["tool-test", "--all", "--crew", SUPPORT],
        ["runs"],
        ["cost-report", "--last"],
        ["show", "--last"],
        ["run", FRAUD, "--offline"],
        ["--help"],
    ],
)
def test_a_closed_pipe_is_not_a_failure(tmp_path: Path, ran: Path, args: list[str]) -> None:
    home = tmp_path if args[0] == "run" else ran  # a new run must not become `ran`'s last
    assert _closed_pipe(args, home) == 0


def _ids(home: Path) -> list[str]:
    return sorted(p.name for p in (home / ".mas/runs").iterdir())


def _fits(text: str, width: int = 80) -> None:
    for line in text.splitlines():
        assert len(line) <= width, line
        assert line == line.rstrip(), f"trailing blanks: {line!r}"
        assert "…" not in line, line


def test_runs_at_80_columns_keeps_whole_run_ids(ran: Path) -> None:
    done = _mas("runs", env=NARROW, home=ran)
    assert done.returncode == 0, done.stderr
    _fits(done.stdout)
    for run_id in _ids(ran):
        assert run_id in done.stdout
    assert "$0.002090" in done.stdout  # every cost of the column with the same decimals
    assert "$0.000479" in done.stdout


def test_cost_report_at_80_columns_folds_instead_of_cutting(ran: Path) -> None:
    done = _mas("cost-report", "--last", env=NARROW, home=ran)
    assert done.returncode == 0, done.stderr
    table = done.stdout
    _fits(table)
    for name in ("scorer", "critic", "judge", "total", "retries", "cost/task", "saved"):
        assert name in table
    assert "$0.000479" in table


def test_piped_output_has_no_trailing_blanks(ran: Path) -> None:
    for args in (["runs"], ["cost-report", "--all"], ["show", "--last"]):
        done = _mas(*args, home=ran)
        assert done.returncode == 0, done.stderr
        assert all(line == line.rstrip() for line in done.stdout.splitlines()), args


def test_show_wraps_long_lines_and_keeps_the_stop_reason_and_totals(ran: Path) -> None:
    done = _mas("show", "--last", env=NARROW, home=ran)
    assert done.returncode == 0, done.stderr
    _fits(done.stdout)
    flat = " ".join(line.strip("│├└─ ") for line in done.stdout.splitlines())
    assert "stopped: max_llm_calls 12 reached (circuit breaker) by agent scorer" in flat
    assert "12 model calls" in flat
    assert "$0.000479" in flat
    assert "stopped — stopped" not in flat


def test_the_stop_reason_is_said_once(ran: Path) -> None:
    reason = "max_llm_calls 12 reached (circuit breaker)"
    shown = _mas("show", "--last", env={"COLUMNS": "400"}, home=ran).stdout
    assert shown.count(reason) == 2  # the run's line, and the limit where it fired
    run = _mas("run", RUNAWAY, env={"COLUMNS": "400"}, home=ran)
    progress = run.stderr.splitlines()
    assert sum(reason in line for line in progress[:-1]) == 1  # then the closing line
    assert reason in progress[-1]
    assert "✗ critique stopped" in progress


def test_no_color_means_no_escape_codes_on_a_terminal(ran: Path) -> None:
    import pty

    main, tty = pty.openpty()
    done = _mas("show", "--last", home=ran, env={"NO_COLOR": "1", "COLUMNS": "200"}, out=tty)
    os.close(tty)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert done.returncode == 0
    assert b"max_llm_calls" in out
    assert b"\x1b[" not in out


def test_an_ascii_stream_degrades_instead_of_crashing(ran: Path) -> None:
    env = {"PYTHONIOENCODING": "ascii"}
    shown = _mas("show", "--last", env=env, home=ran)
    assert shown.returncode == 0, shown.stderr
    assert "105->20 tokens" in shown.stdout or "->" in shown.stdout
    run = _mas("run", FRAUD, "--offline", env=env, home=ran)
    assert run.returncode == 0, run.stderr
    assert "> analyze (analyzer)" in run.stderr
    assert "-- decide (aggregator) ok" in run.stderr


def test_csv_shares_are_rounded_and_costs_exact(ran: Path) -> None:
    done = _mas("cost-report", "--last", "--format", "csv", home=ran)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    share = header.split(",").index("share")
    for row in rows:
        assert len(row.split(",")[share].partition(".")[2]) <= 2, row


def test_numbers_and_words_read_as_people_write_them(tmp_path: Path) -> None:
    from crewkit import write_crew
    from typer.testing import CliRunner

    from mas_cli.cli import app

    crew = write_crew(
        tmp_path,
        """
name: words
models: {m: offline}
limits: {max_tokens: 1000000}
agents: {a: {role: Writer, model: m, script: [{text: one}]}}
tasks:
  - {id: t, agent: a, prompt: "Write."}
  - {id: u, agent: a, prompt: "Again.", depends_on: [t]}
""",
    )
    checked = CliRunner().invoke(app, ["validate", str(crew)])
    assert checked.exit_code == 0, checked.stderr
    assert "max_tokens 1,000,000" in checked.stdout
    assert "1e+06" not in checked.stdout
    assert "1 agent, 2 tasks, 0 tools" in checked.stdout
    ran = CliRunner().invoke(app, ["run", str(crew), "-q"])
    assert "ran out after 1 turn " in ran.stderr  # the second task finds the script played


COMMANDS = [
    ["run"], ["runs"], ["runs", "prune"], ["show"], ["validate"], ["init"], ["cost-report"],
    ["tool-test"], ["triage", "loops"], ["triage", "state"], ["cache", "stats"],
    ["cache", "clear"], ["cache", "explain"], ["export"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_words_not_python_types(command: list[str]) -> None:
    from typer.testing import CliRunner

    from mas_cli.cli import app

    done = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0
    text = done.stdout
    for python in ("<bool>", "<str>", "<int>", "<path>", "<float>", "list[", "{"):
        assert python not in text, (command, python)
    if command == ["cost-report"]:
        assert "--fail-over             USD" in text
        assert "[table|json|csv|md]" in text
    if command == ["triage", "loops"]:
        assert "[table|json|md]" in text
    if command == ["run"]:
        assert "Usage: mas run [OPTIONS] CREW" in text
        assert re.search(r"--input +-i +KEY=VALUE", text)  # the column's width follows the options


EXAMPLES = sorted(p.name for p in (ROOT / "crews").iterdir() if (p / "crew.yaml").is_file())


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_crew_runs_when_its_folder_is_copied_alone(
    tmp_path: Path, example: str
) -> None:
    import shutil

    from typer.testing import CliRunner

    from mas_cli.cli import app

    alone = tmp_path / "mine" / example
    shutil.copytree(ROOT / "crews" / example, alone)
    checked = CliRunner().invoke(app, ["validate", str(alone / "crew.yaml")])
    assert checked.exit_code == 0, checked.stderr
    ran = CliRunner().invoke(app, ["run", str(alone / "crew.yaml"), "--offline", "-q"])
    assert ran.exit_code in (0, 3), ran.stderr  # the incident crews stop on their guard
    assert "error" not in ran.stderr.lower(), ran.stderr


def test_estimate_json_points_into_no_deleted_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mas_cli.cli import app

    done = CliRunner().invoke(app, ["run", FRAUD, "--estimate", "--json"])
    assert done.exit_code == 0, done.stderr
    doc = json.loads(done.stdout)
    for run in doc["estimate"]["runs"]:
        assert run["path"] == "(dry run: not kept)"
    assert "mas-estimate-" not in done.stdout


def _help_commands() -> list[list[str]]:
    import typer.main

    from mas_cli.cli import app

    found: list[list[str]] = []

    def walk(group: Any, path: list[str]) -> None:
        for name, sub in getattr(group, "commands", {}).items():
            found.append([*path, name])
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


@pytest.mark.parametrize("command", _help_commands(), ids=" ".join)
def test_help_paragraphs_wrap_to_the_terminal_not_to_the_source(command: list[str]) -> None:
    """At 80 columns a help paragraph fills its lines: a line ends early only where its
    paragraph ends (Typer kept the docstring's breaks, made at 100 columns in the source)."""
    from typer.testing import CliRunner

    from mas_cli.cli import app

    done = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert done.exit_code == 0
    head = done.stdout.split("╭")[0]  # the usage line and the paragraphs, before the panels
    lines = [line.rstrip() for line in head.splitlines()]
    for line, after in itertools.pairwise(lines):
        if line and after and not after.lstrip().startswith("Usage:"):
            next_word = after.split()[0]
            assert len(line) + 1 + len(next_word) > 78, (command, line, after)


def test_a_command_run_in_process_draws_at_the_width_it_is_given() -> None:
    """The width of a pipe is read when a command prints, not when the renderer first loads: a
    command run in-process by another (a test, a host program) follows its own environment.
    Before, the first command's COLUMNS held for every later one, so these tests passed or
    failed by the order they ran in."""
    from typer.testing import CliRunner

    from mas_cli.cli import app

    def drawn(columns: str) -> list[str]:
        done = CliRunner().invoke(app, ["validate", FRAUD], env={"COLUMNS": columns})
        assert done.exit_code == 0, done.output
        return done.stdout.splitlines()

    wide = drawn("300")
    assert max(map(len, wide)) > 100  # the limits row, on one line at 300 columns
    narrow = drawn("60")
    # the table fits in 60; the first and last lines are prose, which a terminal wraps
    assert max(map(len, narrow[1:-1])) <= 60
    assert len(narrow) > len(wide)
    assert drawn("300") == wide


def _stderr_reader_gone(args: list[str], home: Path) -> subprocess.CompletedProcess[bytes]:
    """mas with stdout and stderr into one pipe whose reader reads one line and leaves
    (`2>&1 | head -1`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=home,
        env={**os.environ, "MAS_HOME": str(home / ".mas"), "PYTHONUNBUFFERED": ""},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()
    process.wait(timeout=120)
    return subprocess.CompletedProcess(args, process.returncode, first, b"")


BAD_CREW = "name: x\nmodels: {m: offline}\nagents:\n" + "".join(
    f"  a{i}: {{role: r, model: nope}}\n" for i in range(200)
)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["run", RUNAWAY, "--offline"], 3),  # progress on stderr, then stopped by a limit
        (["validate", "bad.yaml"], 2),  # 200 problems on stderr
        (["run", "bad.yaml"], 2),
    ],
)
def test_stderr_whose_reader_left_keeps_the_exit_code(
    tmp_path: Path, args: list[str], code: int
) -> None:
    """`mas run crew.yaml 2>&1 | head -1`: stderr's reader leaving is no reason to exit 0 (or
    with Python's 120 for a flush that fails at exit); the command's own code stands."""
    (tmp_path / "bad.yaml").write_text(BAD_CREW, encoding="utf-8")
    done = _stderr_reader_gone(args, tmp_path)
    assert done.stdout  # the reader did get its line
    assert done.returncode == code


@pytest.mark.parametrize("closed", [["stdout"], ["stderr"], ["stdin", "stdout", "stderr"]])
def test_a_closed_standard_stream_is_no_traceback(tmp_path: Path, closed: list[str]) -> None:
    """`mas runs >&-`: a stream started closed reads and writes nowhere; the command works and
    exits with its own code (a run stopped by its limit: 3)."""
    report = tmp_path / "report"
    names = {"stdin": 0, "stdout": 1, "stderr": 2}
    script = (
        "import os, subprocess, sys\n"
        f"for fd in {[names[n] for n in closed]}: os.close(fd)\n"
        f"code = subprocess.call([sys.executable, '-m', 'mas_cli', 'run', {RUNAWAY!r}, "
        "'--offline'], close_fds=False)\n"
        f"open({str(report)!r}, 'w').write(str(code))\n"
    )
    err = tmp_path / "err"
    with err.open("w") as sink:
        subprocess.run(
            [sys.executable, "-c", script],
            stderr=sink if "stderr" not in closed else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            cwd=tmp_path,
            env={**os.environ, "MAS_HOME": str(tmp_path / ".mas")},
            check=False,
            timeout=120,
        )
    assert report.read_text() == "3", err.read_text()
    assert "Traceback" not in err.read_text()
    (run,) = (tmp_path / ".mas/runs").iterdir()
    for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines():
        assert json.loads(line)["run_id"] == run.name  # nothing printed landed in the log


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["runs"],  # the fast path
        ["cost-report", "--last", "--json"],
        ["triage", "loops", "--last"],
        ["init"],  # through Typer: its usage
        ["run", FRAUD, "--offline", "-q"],
    ],
)
def test_a_full_disk_under_stdout_is_said_not_a_bug(
    tmp_path: Path, ran: Path, args: list[str]
) -> None:
    """`mas runs > /dev/full` was 'internal error ... a bug in mas', and `mas --help` a traceback."""
    home = tmp_path if args[0] == "run" else ran
    with open("/dev/full", "w") as full:  # noqa: PTH123 (a device, not a path we make)
        done = _mas(*args, home=home, out=full.fileno())
    assert done.returncode == 1, done.stderr
    assert "cannot write the output: no space left on device" in done.stderr
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize("columns", ["0", "00"])
def test_columns_zero_in_a_pipe_is_no_width_at_all(ran: Path, columns: str) -> None:
    """`COLUMNS=0 mas runs | cat` printed nothing at all: rich drew the table 0 columns wide.
    A width of 0 says nothing about the pipe: the pipe's width (160) is used, as when unset."""
    for args in (["runs"], ["show", "--last"], ["cost-report", "--last"], ["cache", "stats"]):
        done = _mas(*args, env={"COLUMNS": columns}, home=ran)
        wide = _mas(*args, env={"COLUMNS": "160"}, home=ran)  # a pipe's width
        assert done.returncode == wide.returncode == 0, done.stderr
        assert done.stdout == wide.stdout != "", args
