"""Issue 14, "No traceback, ever": each crash seen ends in a clear error or a handled outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()
TOOLS = """
def echo(text: str) -> str:
    return "got:" + text

def surrogate(text: str) -> str:
    return "bad \\ud800 output"
"""


def _crew(tmp_path: Path, *, prompt: str = "Say {topic}.", default: str = "x", limits: str = "",
          script: str = "[{text: done}]", schema: str = "") -> Path:  # fmt: skip
    return write_crew(
        tmp_path,
        f"""
        name: t
        inputs:
          topic: {{default: {default}}}
        models:
          m: offline
        {limits}
        tools:
          echo: {{function: tools.py:echo}}
          surrogate: {{function: tools.py:surrogate}}
        agents:
          a: {{role: r, goal: g, model: m, tools: [echo, surrogate], script: {script}}}
        tasks:
          - {{id: t1, agent: a, prompt: "{prompt}"{schema}}}
        """,
        tools__py=TOOLS,
    )


def _mas(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert "internal error" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def _events(home: Path) -> list[dict[str, Any]]:
    (run,) = (home / "runs").iterdir()
    lines = (run / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("placeholder", ["{topic[0]}", "{topic!z}", "{topic!r}", "{topic:>10}",
                                         "{topic.}"])  # fmt: skip
def test_a_placeholder_with_an_index_conversion_or_format_fails_validate_with_its_line(
    tmp_path: Path, placeholder: str
) -> None:
    crew = _crew(tmp_path, prompt=f"Say {placeholder}.")
    for command in ("validate", "run"):
        result = _mas(command, str(crew))
        assert result.exit_code == 2
        assert "crew.yaml:14:" in result.stderr
        assert (
            f"tasks[t1].prompt: bad placeholder: {placeholder}: a placeholder is" in result.stderr
        )


def test_an_unquoted_date_as_an_input_default_is_the_text_written(tmp_path: Path) -> None:
    result = _mas("run", str(_crew(tmp_path, default="2026-12-05", script="")), "--json")
    assert result.exit_code == 0
    assert "2026-12-05" in json.loads(result.stdout)["tasks"]["t1"]["output"]


@pytest.mark.parametrize(
    ("default", "says"),
    [
        ("2026-13-45", "inputs.topic.default: 2026-13-45 reads as a date in YAML, and is none"),
        ("2026-02-30 25:61:61", "is none: day is out of range for month (fix the date, or quote"),
        ("9" * 5000, "inputs.topic.default: the integer 999999999999...99999999 has 5,000 char"),
    ],
)
def test_a_scalar_yaml_cannot_hold_is_a_located_error(
    tmp_path: Path, default: str, says: str
) -> None:
    crew = _crew(tmp_path, default=default)
    for command in ("validate", "run"):
        result = _mas(command, str(crew))
        assert result.exit_code == 2
        assert "crew.yaml:4:20:" in result.stderr
        assert says in result.stderr


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "-1", "1e400"])
def test_a_non_finite_or_negative_budget_is_a_located_error(tmp_path: Path, value: str) -> None:
    crew = _crew(tmp_path, limits=f"limits: {{max_cost_usd: {value}}}")
    for command in ("validate", "run"):
        result = _mas(command, str(crew))
        assert result.exit_code == 2
        assert "crew.yaml:7:" in result.stderr
        assert "limits.max_cost_usd:" in result.stderr


@pytest.mark.parametrize(
    "script",
    [
        '[{text: "a\\0b"}]',  # a NUL in an answer
        '[{tool_calls: [{name: echo, arguments: {text: "a\\0b"}}]}, {text: ok}]',
        "[{tool_calls: [{name: surrogate, arguments: {text: a}}]}, {text: ok}]",
    ],
)
def test_nul_and_lone_surrogates_from_models_and_tools_are_logged_and_billed(
    tmp_path: Path, clean_env: Path, script: str
) -> None:
    result = _mas("run", str(_crew(tmp_path, script=script)))
    assert result.exit_code == 0, result.output
    calls = [e for e in _events(clean_env) if e["type"] == "llm_call"]
    assert len(calls) == len(yaml.safe_load(script))
    assert all(c["status"] == "ok" for c in calls)
    (run,) = (clean_env / "runs").iterdir()
    for name in ("events.jsonl", "llm.jsonl", "output.json", "state.json"):
        (run / name).read_bytes().decode("utf-8")  # every file is valid UTF-8


def test_a_deeply_nested_answer_is_an_invalid_answer_not_a_crash(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    crew = _crew(tmp_path, script=f"[{{text: '{deep}'}}, {{data: {{}}}}]",
                 schema=", output_schema: {type: object}")  # fmt: skip
    result = _mas("run", str(crew))
    assert result.exit_code == 0, result.output  # re-asked, then answered


def test_deep_json_in_inputs_and_args_files_is_a_usage_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":' * 5000 + "1" + "}" * 5000)
    crew = str(_crew(tmp_path))
    for argv in (
        ["run", crew, "--inputs", str(deep)],
        ["tool-test", "echo", "--crew", crew, "--args", f"@{deep}"],
        ["tool-test", "echo", "--crew", crew, "--args", deep.read_text()],
    ):
        result = _mas(*argv)
        assert result.exit_code == 2
        assert "not valid JSON (nested too deeply to read" in result.stderr


@pytest.mark.parametrize("log", ["events.jsonl", "state.json"])
def test_deep_json_in_logs_and_state_files(tmp_path: Path, log: str) -> None:
    path = tmp_path / log
    path.write_text('{"a":' * 5000 + "1" + "}" * 5000 + "\n")
    if log == "state.json":
        result = _mas("triage", "state", str(path), "--crew", str(_crew(tmp_path)))
        assert result.exit_code == 2
        assert "not valid JSON" in result.stderr
        return
    for argv in (["triage", "loops", str(path)], ["cost-report", str(path)], ["show", str(path)]):
        assert _mas(*argv).exit_code in (0, 1, 2)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("name: t\na: &a [*a]\n", "crew.yaml:2:4: the alias *a is used inside its"),
        ("name: t\nm: &m\n  <<: *m\n", "crew.yaml:2:4: the alias *m is used inside its"),
        ("name: t\nx: " + "[" * 700 + "]" * 700 + "\n",  # deeper than Python recurses
         "crew.yaml:1:1: nested too deeply to read, or an alias contains itself"),
    ],
)  # fmt: skip
def test_recursive_or_deep_yaml_is_a_spec_error(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(yaml_text)
    for argv in (
        ["validate", str(crew)],
        ["run", str(crew)],
        ["tool-test", "x", "--crew", str(crew)],
    ):
        result = _mas(*argv)
        assert result.exit_code == 2
        assert message in result.stderr


def test_an_input_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    bad = b"topic=\xff\xfe".decode("utf-8", "surrogateescape")  # as Python hands over argv
    result = _mas("run", str(_crew(tmp_path)), "--input", bad)
    assert result.exit_code == 2
    assert "is not valid UTF-8" in result.stderr


def test_lone_surrogates_in_an_inputs_file_are_replaced(tmp_path: Path, clean_env: Path) -> None:
    inputs = tmp_path / "in.json"
    inputs.write_text('{"topic": "a\\ud800b"}')
    result = _mas("run", str(_crew(tmp_path, script="")), "--inputs", str(inputs))
    assert result.exit_code == 0
    (run,) = (clean_env / "runs").iterdir()
    assert "Say a\ufffdb." in (run / "llm.jsonl").read_text(encoding="utf-8")


def _wire_crew(tmp_path: Path, url: str, **model: Any) -> Path:
    doc = {
        "name": "wire",
        "models": {
            "m": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "base_url": url + "/v1",
                "api_key_env": "MAS_TEST_KEY",
                **model,
            }
        },
        "state": {"ключ": {"type": "string"}},
        "tools": {"echo": {"function": "tools.py:echo"}},
        "agents": {"a": {"role": "r", "model": "m", "tools": ["echo"]}},
        "tasks": [
            {
                "id": "t",
                "agent": "a",
                "prompt": "Hi {ключ}.",
                "writes": ["ключ"],
                "output_schema": {"type": "object", "properties": {"ключ": {"type": "string"}}},
            }
        ],
    }
    (tmp_path / "tools.py").write_text(TOOLS)
    path = tmp_path / "crew.yaml"
    path.write_text(json.dumps(doc))
    return path


def test_a_key_with_a_non_ascii_character_is_a_usage_error_that_hides_it(
    tmp_path: Path, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-secret-ключ")
    result = _mas("run", str(_wire_crew(tmp_path, server.url)))
    assert result.exit_code == 2
    assert "MAS_TEST_KEY holds a character an HTTP header cannot carry (at position 11)" in (
        result.stderr
    )
    assert "secret" not in result.output


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Ключ": "v"}, "header name 'X-Ключ' must be ASCII letters, digits or -"),
        ({"X-Team": "ключ"}, "the value of header 'X-Team' must be printable ASCII"),
        ({"X-Team": "a\nb"}, "the value of header 'X-Team' must be printable ASCII"),
    ],
)
def test_a_non_ascii_header_is_a_located_spec_error(
    tmp_path: Path, server: Any, headers: dict[str, str], message: str
) -> None:
    result = _mas("validate", str(_wire_crew(tmp_path, server.url, headers=headers)))
    assert result.exit_code == 2
    assert f"models.m.headers: {message}" in result.stderr


def test_non_ascii_state_keys_and_key_variables_work(
    tmp_path: Path, server: Any, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    from fakeserver import OPENAI, openai_text

    monkeypatch.setenv("КЛЮЧ_API", "sk-test")
    server.routes[OPENAI].push(openai_text('{"ключ": "значение"}'))
    result = _mas("run", str(_wire_crew(tmp_path, server.url, api_key_env="КЛЮЧ_API")))
    assert result.exit_code == 0, result.output
    (run,) = (clean_env / "runs").iterdir()
    state = json.loads((run / "state.json").read_text(encoding="utf-8"))
    assert "значение" in json.dumps(state, ensure_ascii=False)


def test_lone_surrogates_and_nul_on_the_wire_are_billed_and_logged(
    tmp_path: Path, server: Any, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    from fakeserver import OPENAI, openai_text, openai_tools

    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    server.routes[OPENAI].push(
        openai_tools(("echo", json.dumps({"text": "a\ud800\x00b"}))),  # escaped on the wire
        openai_tools(("echo", json.dumps({"\udc80": "a"}))),  # a lone surrogate as a key
        openai_text('{"ключ": "x\\ud800y\\u0000"}'),
    )
    result = _mas("run", str(_wire_crew(tmp_path, server.url)))
    assert result.exit_code == 0, result.output
    calls = [e for e in _events(clean_env) if e["type"] == "llm_call"]
    assert [c["status"] for c in calls] == ["ok", "ok", "ok"]
    assert all(c["input_tokens"] > 0 for c in calls)  # usage recorded: the call is counted
    (run,) = (clean_env / "runs").iterdir()
    assert "a\ufffd\\u0000b" in (run / "llm.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["body", "arguments"])
def test_deep_json_on_the_wire_is_a_malformed_answer_not_a_crash(
    tmp_path: Path, server: Any, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from fakeserver import OPENAI, Reply, openai_text, openai_tools

    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    deep = "[" * 5000 + "]" * 5000
    if where == "body":  # the whole response: malformed, not retried, the task fails
        raw = json.dumps(openai_text("{}").json)[:-1] + f', "x": {deep}}}'
        first = Reply(body=raw.encode(), headers={"content-type": "application/json"})
    else:  # the tool call's arguments: the agent is told they are not JSON
        first = openai_tools(("echo", '{"text": ' + deep + "}"))
    server.routes[OPENAI].push(first, openai_text('{"ключ": "v"}'))
    result = _mas("run", str(_wire_crew(tmp_path, server.url)))
    if where == "body":
        assert result.exit_code == 1
        assert "malformed response: not JSON" in result.stderr
    else:
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://[::1/v1", "base_url is not a URL (invalid ipv6 url)"),
        ("http://127.0.0.1:99999/v1", "base_url is not a URL (port out of range 0-65535)"),
        ("http://127.0.0.1:abc/v1", "base_url is not a URL (port could not be cast"),
        ("http://u:sk-pass-0123456789@[::1/v1", "base_url is not a URL (invalid ipv6 url)"),
        ("localhost:8080/v1", "base_url needs http:// or https:// at its start"),
        ("file:///etc/passwd", "base_url needs http:// or https:// at its start"),
        ("http:///v1", "base_url names no host"),
        # the SDKs append their path after it: a 404 mid-run, the query sent in the path
        ("http://127.0.0.1:8080/v1?api-version=2024", "base_url has a query or a fragment"),
        ("http://127.0.0.1:8080/v1?key=sk-pass-0123456789", "base_url has a query or a fragment"),
        ("http://127.0.0.1:8080/v1#x", "base_url has a query or a fragment"),
    ],
)
def test_a_base_url_no_sdk_can_call_is_a_located_error_that_never_shows_it(
    tmp_path: Path, url: str, says: str
) -> None:
    crew = write_crew(
        tmp_path,
        f"""
        name: t
        models:
          m: {{provider: openai, model: local, base_url: "{url}"}}
        prices: {{local: {{input: 0, output: 0}}}}
        agents:
          a: {{role: r, model: m}}
        tasks:
          - {{id: t1, agent: a, prompt: hi}}
        """,
    )
    for args in (["validate"], ["run"], ["run", "--offline"]):
        result = _mas(*args, str(crew))
        assert result.exit_code == 2
        assert "crew.yaml:4:" in result.stderr
        assert f"models.m.base_url: {says}" in result.stderr
        assert "e.g. http://127.0.0.1:8080/v1" in result.stderr
        assert url not in result.output
        assert "sk-pass" not in result.output
