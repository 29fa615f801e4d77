"""`mas validate` and the CLI's error boundary, through the CLI runner: exit codes and streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.errors import ProviderError, SpecError

ROOT = Path(__file__).resolve().parent.parent
CREWS = sorted(ROOT.glob("crews/*/crew.yaml"))
SPEC = ROOT / "tests" / "fixtures" / "spec"
runner = CliRunner()


def test_there_are_example_crews() -> None:
    assert {p.parent.name for p in CREWS} >= {"research-pipeline", "fraud-review", "support-ticket"}


@pytest.mark.parametrize("crew", CREWS, ids=lambda p: p.parent.name)
def test_example_crews_are_valid_even_strictly(crew: Path) -> None:
    result = runner.invoke(app, ["validate", "--strict", str(crew)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("✓ ")


def test_summary_lists_agents_tasks_in_order_tools_models_and_limits() -> None:
    result = runner.invoke(app, ["validate", str(ROOT / "crews/fraud-review/crew.yaml")])
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✓ fraud-review ")
    assert "(parallel, 3 agents, 3 tasks, 2 tools)" in lines[0]
    text = "\n".join(" ".join(line.split()) for line in lines)
    assert "agents analyzer model fast max_turns 3 tools lookup_account" in text
    assert "analyze level 0 by analyzer" in text
    assert "score level 0 by scorer" in text
    assert (
        "decide level 1 by aggregator after analyze, score; validated output; writes decision, fraud_score"
        in text
    )
    assert "search_patterns command deterministic" in text
    assert "careful anthropic:claude-sonnet-4-6" in text
    assert "max_turns 5 · max_llm_calls 30 · max_tool_calls 200*" in text


def test_invalid_file_prints_every_problem_on_stderr_and_exits_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(SPEC)
    result = runner.invoke(app, ["validate", "unknown_key.yaml"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: unknown_key.yaml:6:5: agents.writer.tols: unknown key 'tols' (did you mean 'tools'?)",
        "error: unknown_key.yaml:8:3: limits.max_turn: unknown key 'max_turn' (did you mean 'max_turns'?)",
        "error: unknown_key.yaml:10:5: tasks[t].prompt: 'prompt' is required (add prompt: ...)",
        "error: unknown_key.yaml:12:5: tasks[t].promt: unknown key 'promt' (did you mean 'prompt'?)",
        "✗ unknown_key.yaml: 4 problems",
    ]


def test_warnings_exit_0_unless_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPEC)
    relaxed = runner.invoke(app, ["validate", "warnings.yaml"])
    assert relaxed.exit_code == 0
    assert relaxed.stderr.count("warning: warnings.yaml:") == 3
    assert relaxed.stdout.startswith("✓ warnings ")
    strict = runner.invoke(app, ["validate", "--strict", "warnings.yaml"])
    assert strict.exit_code == 2


def test_several_files_one_bad_exits_2_and_reports_both() -> None:
    good, bad = str(CREWS[0]), str(SPEC / "cycle.yaml")
    result = runner.invoke(app, ["validate", good, bad])
    assert result.exit_code == 2
    assert result.stdout.startswith("✓ ")
    assert "depends_on forms a cycle: one -> three -> two -> one" in result.stderr


def test_json_output_is_one_document_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPEC)
    result = runner.invoke(
        app, ["validate", "--json", "writes.yaml", str(ROOT / "crews/fraud-review/crew.yaml")]
    )
    assert result.exit_code == 2
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert [d["valid"] for d in doc] == [False, True]
    assert doc[0]["problems"][0] == {
        "file": "writes.yaml",
        "line": 10,
        "col": 5,
        "path": "tasks[plain].writes",
        "message": "writes needs an output_schema, so the output has fields",
        "hint": "add output_schema: {type: object, ...}",
        "code": "",
    }
    assert doc[1]["summary"]["process"] == "parallel"
    assert {t["id"] for t in doc[1]["summary"]["tasks"]}


def test_missing_file_is_reported_without_traceback() -> None:
    result = runner.invoke(app, ["validate", "no/such/crew.yaml"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no/such/crew.yaml: no such file")
    assert "Traceback" not in result.output


def test_usage_errors_exit_2() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_version() -> None:
    from mas_cli import __version__

    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"mas {__version__}\n")


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (
            ProviderError("the provider refused", hint="check the key"),
            1,
            "error: the provider refused (check the key)",
        ),
        (SpecError([]), 2, ""),
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("boom"), 1, "internal error: RuntimeError: boom"),
    ],
)
def test_error_boundary_maps_errors_to_exit_codes(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: int, message: str
) -> None:
    def explode(path: Path) -> None:
        raise raised

    monkeypatch.setattr("mas_cli.spec.summary.check_file", explode)
    result = runner.invoke(app, ["validate", "x.yaml"])
    assert result.exit_code == code
    assert result.stdout == ""
    assert result.stderr.splitlines()[0:1] == ([message] if message else [])
    assert "Traceback" not in result.output


def test_debug_mode_lets_bugs_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(path: Path) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("mas_cli.spec.summary.check_file", explode)
    monkeypatch.setenv("MAS_DEBUG", "1")
    result = runner.invoke(app, ["validate", "x.yaml"])
    assert isinstance(result.exception, RuntimeError)
