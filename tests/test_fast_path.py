"""The fast path (cli/fast.py: the read-only commands and `mas run`) parses every option as Typer
does, from a table derived from the Typer signatures; anything it does not parse plainly goes to
Typer."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app, argtable, fast, fastargs
from mas_cli.cli.fast import FAST_TARGETS, Param

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_the_table_is_what_typer_declares() -> None:
    """An option added to a Typer command and not to argtable.py fails here, with the fix."""
    assert fastargs.table() == argtable.PARAMS, (
        "cli/argtable.py is stale: python -m mas_cli.cli.fastargs && ruff format mas_cli/cli"
    )
    assert set(argtable.PARAMS) == set(FAST_TARGETS)


def _value(p: Param, second: bool = False) -> str:
    if p.kind.startswith("choice:"):
        _, module, name = p.kind.split(":")
        values = [c.value for c in getattr(importlib.import_module(module), name)]
        return str(values[-1] if second else values[1])
    return {"int": "7" if second else "-3", "path": "some/dir", "str": "a b"}[p.kind] + (
        "2" if second and p.kind != "int" else ""
    )


def _samples(path: tuple[str, ...]) -> list[list[str]]:
    """argv samples that give every parameter a value, in each way it can be written."""
    params = argtable.PARAMS[path]
    required = [_value(p) for p in params if p.required and not p.flags]
    samples = [[*path, *required]]
    for p in params:
        if not p.flags:
            values = [_value(p), _value(p, True)] if p.many else [_value(p)]
            if p.required:
                continue  # given in every sample
            samples.append([*path, *values])
            samples.append([*path, "--", *values])
            continue
        for flag in p.flags + p.off:
            if p.kind == "bool":
                samples.append([*path, *required, flag])
                continue
            samples.append([*path, flag, _value(p), *required])
            if flag.startswith("--"):
                samples.append([*path, *required, f"{flag}={_value(p, True)}"])
            if p.many:
                samples.append([*path, flag, _value(p), flag, _value(p, True), *required])
            else:  # given twice, the last one counts
                samples.append([*path, flag, _value(p), *required, flag, _value(p, True)])
    return samples


CASES = [(path, argv) for path in FAST_TARGETS for argv in _samples(path)]


@pytest.mark.parametrize(("path", "argv"), CASES, ids=[" ".join(a) for _, a in CASES])
def test_every_option_parses_as_typer_parses_it(
    path: tuple[str, ...], argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, attr = FAST_TARGETS[path][1].split(":")
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(importlib.import_module(module), attr, lambda **kw: seen.append(kw) or 0)
    done = runner.invoke(app, argv)
    assert done.exit_code == 0, done.output
    parsed = fast.parse(argv)
    assert parsed is not None, argv
    assert parsed == (FAST_TARGETS[path][1], seen[0])
    assert [type(v) for v in parsed[1].values()] == [type(v) for v in seen[0].values()]


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "--help"],
        ["runs", "-h"],
        ["show", "--last", "--help"],
        ["runs", "--limit", "many"],  # Typer says what is wrong with it
        ["runs", "--limit"],
        ["runs", "--limit", "--json"],
        ["runs", "--json=yes"],
        ["runs", "--no-such-option"],
        ["runs", "-nx"],
        ["runs", "prune", "--keep", "3"],  # a subcommand, and not a read-only one
        ["runs", "extra"],
        ["show", "one", "two"],
        ["validate"],  # a required argument missing
        ["cost-report", "--by", "colour"],
        ["triage"],
        ["triage", "state", "state.json"],
        ["run"],  # the crew file missing
        ["run", "crew.yaml", "--help"],
        ["batch", "crew.yaml", "--inputs", "items.jsonl"],
        ["--home", "x", "runs"],
    ],
)
def test_what_is_not_plain_goes_to_typer(argv: list[str]) -> None:
    assert fast.parse(argv) is None


def test_shell_completion_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_MAS_COMPLETE", "bash_complete")
    assert fast.parse(["runs"]) is None


def test_fast_and_typer_print_and_exit_alike(tmp_path: Path) -> None:
    """Output and exit codes, including an error at the boundary (exit 2, no traceback)."""
    script = textwrap.dedent(
        """
        import sys
        from mas_cli.cli import fast, main
        if sys.argv[1] == "typer":
            fast.parse = lambda argv: None
        sys.argv = ["mas", *sys.argv[2:]]
        raise SystemExit(main())
        """
    )
    for argv in (
        ["runs", "--home", str(tmp_path)],
        ["runs", "--home", str(tmp_path), "--status", "okk"],
        ["show", "--last", "--home", str(tmp_path)],
        ["validate", str(ROOT / "crews/fraud-review/crew.yaml"), "--json"],
        ["triage", "loops", str(ROOT / "README.md")],
    ):
        got = [
            subprocess.run(
                [sys.executable, "-c", script, way, *argv],
                capture_output=True,
                text=True,
                check=False,
                cwd=tmp_path,
            )
            for way in ("fast", "typer")
        ]
        assert (got[0].returncode, got[0].stdout) == (got[1].returncode, got[1].stdout), argv
        assert got[0].stderr == got[1].stderr, argv
        assert "Traceback" not in got[0].stderr


def test_what_the_fast_path_cannot_parse_keeps_a_command_off_it() -> None:
    """`--keep` has a minimum (Typer checks it): deriving a table for prune refuses."""
    with pytest.raises(TypeError, match=r"keep \(min\)"):
        fastargs.params(("runs", "prune"), "mas_cli.cli.runs:prune")
