"""Raw terminal escapes from a log, a model, a tool or a crew file never reach the terminal:
every printing command shows them as visible escapes instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mas_cli.cli import app

# OSC 52 (write the clipboard), a window title, CSI 2J (clear the screen), a C1 CSI, a bell,
# a carriage return and a right-to-left override
PAYLOAD = "\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\x9b2J\r\u202e"
RAW = ("\x1b", "\x07", "\x9b", "\r", "\u202e")
MARK = "EVILMARK"
runner = CliRunner()

CREW = f"""\
name: "escapes {MARK}"
tools:
  evil:
    command: [python, -c, "import sys; print(sys.argv[1]); sys.exit(sys.argv[1])", "{{x}}"]
    parameters: {{x: {{type: string, default: "{MARK}"}}}}
  fine:
    command: [python, -c, "import os; print(os.environ['MAS_ESCAPE_PAYLOAD'])"]
    env: [MAS_ESCAPE_PAYLOAD]
    kind: deterministic
agents:
  a:
    role: "role {MARK}"
    model: offline
    tools: [evil, fine]
    script:
      - tool_calls: [{{name: evil, arguments: {{}}}}, {{name: fine, arguments: {{}}}}]
      - text: "answer {MARK}"
tasks:
  - {{id: t, agent: a, prompt: "Go {MARK}."}}
"""


def _clean(text: str) -> None:
    for raw in RAW:
        assert raw not in text, repr(raw)


@pytest.fixture
def crew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAS_ESCAPE_PAYLOAD", PAYLOAD)
    path = tmp_path / "crew.yaml"
    # the crew file holds the marker; the tool, the model and the log get the real payload
    path.write_text(CREW.replace(MARK, "\\e]52;c;ZXZpbA==\\a\\e[2J\\x9b2J\\r\\u202e"))
    return path


def _poison(home: Path) -> Path:
    """The run's log with the payload in every string it could hold, as a tampered log has."""
    log = next((home / "runs").iterdir()) / "events.jsonl"
    lines = []
    for line in log.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        for key in ("agent", "task", "tool", "reason", "message", "model", "crew", "error"):
            if isinstance(event.get(key), str):
                event[key] += PAYLOAD
        lines.append(json.dumps(event))
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return log


def test_no_printing_command_lets_an_escape_through(crew: Path, clean_env: Path) -> None:
    ran = runner.invoke(app, ["run", str(crew)])
    assert ran.exit_code in (0, 1), ran.stderr
    _clean(ran.stdout + ran.stderr)
    assert "answer \\x1b]52;c;ZXZpbA==" in ran.stdout  # shown, not acted on
    log = _poison(clean_env)
    commands = [
        ["show", "--last"],
        ["runs"],
        ["runs", "--json"],
        ["cost-report", "--last"],
        ["cost-report", "--last", "--format", "md"],
        ["cost-report", "--last", "--format", "csv"],
        ["cost-report", "--last", "--by", "tool"],
        ["triage", "loops", str(log)],
        ["triage", "loops", str(log), "--format", "md"],
        ["triage", "loops", str(log), "--json"],
        ["tool-test", "evil", "--crew", str(crew)],
        ["tool-test", "fine", "--crew", str(crew), "--json"],
        ["cache", "stats"],
        ["validate", str(crew)],
    ]
    for argv in commands:
        result = runner.invoke(app, argv)
        assert result.exit_code in (0, 1), (argv, result.stderr)
        _clean(result.stdout + result.stderr)


def test_an_error_message_is_made_safe(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text(f'name: "n"\nagents: {{"a{PAYLOAD}": 1}}\n', encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    _clean(result.stdout + result.stderr)


def test_safe_keeps_newlines_and_tabs_and_shows_the_rest() -> None:
    from mas_cli.cli.render.safe import safe

    assert safe("a\tb\nc\x1b[2J\x9b\u202e\x7f") == "a\tb\nc\\x1b[2J\\x9b\\u202e\\x7f"
    assert safe(safe(PAYLOAD)) == safe(PAYLOAD)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_no_control_character_survives_safe(text: str) -> None:
    from mas_cli.cli.render.safe import safe

    shown = safe(text)
    assert not [c for c in shown if c not in "\n\t" and (c < " " or "\x7f" <= c < "\xa0")]
    assert not set(shown) & {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
