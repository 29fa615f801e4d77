"""README promises no other test attacked: secrets in odd places and budgets held per agent.

Each test tries to break one sentence of README.md and names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer, Reply, openai_text, openai_tools
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()


def _files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    crew = tmp_path / "crew.yaml"
    crew.write_text(json.dumps(doc), encoding="utf-8")
    return crew


# README, Keys and secrets: "a password written into a base_url" is a known secret.
@pytest.mark.parametrize(
    ("written", "password"),
    [("pw-canary-77x", "pw-canary-77x"), ("pw%40canary-77x", "pw@canary-77x")],
)
def test_a_base_url_password_echoed_by_its_server_is_scrubbed_everywhere(
    tmp_path: Path, server: FakeServer, clean_env: Path, written: str, password: str
) -> None:
    echo = f"your password {password} (written {written}) is wrong"
    server.openai.push(Reply(401, {"error": {"message": echo, "code": password}}))
    base_url = server.url.replace("://", f"://user:{written}@") + "/v1"
    crew = _write(
        tmp_path,
        {
            "name": "pw",
            "models": {"m": {"provider": "openai", "model": "gpt-4o-mini", "base_url": base_url}},
            "limits": {"max_retries": 0},
            "agents": {"a": {"role": "A", "model": "m"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
        },
    )
    result = runner.invoke(app, ["run", str(crew)])
    assert result.exit_code == 1, result.output
    shown = result.stdout + result.stderr
    assert "your password ***" in shown
    for secret in (password, written):
        assert secret not in shown
        for path in _files(clean_env):
            assert secret.encode() not in path.read_bytes(), path


RAISES = '''
import os


def leaky(query: str) -> str:
    """Fails, quoting a secret it read."""
    token = os.environ["SERVICE_COOKIE"]
    raise RuntimeError(f"upstream refused cookie {token} for {query}")
'''
COOKIE = "ck-canary-cookie-86420"


def _leaky_crew(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(RAISES, encoding="utf-8")
    return _write(
        tmp_path,
        {
            "name": "leaky",
            "tools": {"leaky": {"function": "tools.py:leaky", "kind": "deterministic"}},
            "agents": {"a": {"role": "A", "model": "offline", "tools": ["leaky"]}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Look up refunds."}],
        },
    )


# README, Keys and secrets: for function tools "what they return (or raise) is scrubbed";
# tool-test shows "when the tool raises, its own traceback".
def test_a_secret_a_function_tool_raises_reaches_no_file_and_no_output(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_COOKIE", COOKIE)
    crew = _leaky_crew(tmp_path)
    ran = runner.invoke(app, ["run", str(crew)])
    assert ran.exit_code == 0, ran.output
    tested = runner.invoke(app, ["tool-test", "leaky", "--crew", str(crew), "--arg", "query=q"])
    assert tested.exit_code == 1, tested.output
    as_json = runner.invoke(
        app, ["tool-test", "leaky", "--crew", str(crew), "--json", "--arg", "query=q"]
    )
    assert "upstream refused cookie ***" in tested.stdout + tested.stderr
    assert "RuntimeError" in tested.stdout + tested.stderr  # its own traceback, scrubbed
    for result in (ran, tested, as_json):
        assert COOKIE not in result.stdout + result.stderr
    events = next(clean_env.glob("runs/*/events.jsonl")).read_text(encoding="utf-8")
    assert "upstream refused cookie ***" in events
    for path in _files(clean_env):
        assert COOKIE.encode() not in path.read_bytes(), path


# README, Keys and secrets: a variable "whose name contains KEY, TOKEN, SECRET, PASSW,
# PASSPHRASE, CRED, AUTH, PRIVATE or COOKIE (8 characters or more)".
@pytest.mark.parametrize(
    "name",
    ["OPENAI_KEY", "gh_token", "AppSecret", "DB_PASSWD", "GPG_PASSPHRASE", "AWS_CREDS",
     "X_AUTH", "SSH_PRIVATE", "session_cookie"],
)  # fmt: skip
def test_every_secret_looking_name_of_eight_characters_or_more_is_a_secret(name: str) -> None:
    from mas_cli.redact import Secrets

    found = Secrets.from_environment({name: "12345678", "PATH": "/usr/local/bin:/usr/bin"})
    assert found.scrub("x=12345678 p=/usr/local/bin:/usr/bin") == "x=*** p=/usr/local/bin:/usr/bin"
    assert Secrets.from_environment({name: "1234567"}).values == ()  # 7 characters: not one


AGENT_BUDGET = """
name: agent-budget
process: parallel
models: {small: {provider: offline, model: offline, max_tokens: 50}}
limits: {max_turns: 60, max_identical_tool_calls: 60}
tools: {counter: {function: tools.py:counter}}
agents:
  a:
    role: A
    model: small
    max_tokens: 6000
    tools: [counter]
    script:
      repeat: true
      turns: [{tool_calls: [{name: counter, arguments: {n: 1}}]}, {tool_calls: [{name: counter, arguments: {n: 2}}]}]
  b: {role: B, model: small}
tasks:
  - {id: w1, agent: a, prompt: Count.}
  - {id: w2, agent: a, prompt: Count again.}
  - {id: u, agent: b, prompt: Summarise.}
"""
COUNTER = '''
import itertools

_seen = itertools.count()


def counter(n: int) -> int:
    """A new number each call, so the no-progress check never fires first."""
    return n + next(_seen)
'''


# README, guard rails and Budgets: max_tokens "per run and per agent ... the call is refused
# before it is made: the run stops (for an agent's budget, that agent's task), and mas run exits 3".
# Two tasks of one agent run at once: together they never pass the agent's budget, and the
# other agent's task is not stopped by it.
def test_an_agents_budget_holds_across_its_parallel_tasks_and_stops_only_them(
    tmp_path: Path, clean_env: Path
) -> None:
    (tmp_path / "tools.py").write_text(COUNTER, encoding="utf-8")
    crew = tmp_path / "crew.yaml"
    crew.write_text(AGENT_BUDGET, encoding="utf-8")
    result = runner.invoke(app, ["run", str(crew), "--quiet"])
    assert result.exit_code == 3, result.output
    log = [
        json.loads(x) for x in next(clean_env.glob("runs/*/events.jsonl")).read_text().splitlines()
    ]
    calls = [e for e in log if e["type"] == "llm_call"]
    spent_a = sum(e["input_tokens"] + e["output_tokens"] for e in calls if e["agent"] == "a")
    assert {e["task"] for e in calls if e["agent"] == "a"} == {"w1", "w2"}
    assert spent_a <= 6000
    hits = [e for e in log if e["type"] == "limit_hit"]
    assert hits
    assert all((h["kind"], h["scope"], h["agent"]) == ("max_tokens", "agent", "a") for h in hits)
    output = json.loads(next(clean_env.glob("runs/*/output.json")).read_text())
    statuses = {t: v["status"] for t, v in output["tasks"].items()}
    assert statuses == {"w1": "stopped", "w2": "stopped", "u": "ok"}


ECHO = '''
def echo(q: str) -> str:
    """Echo."""
    return "got " + q
'''


# README: "No traceback ever reaches a user"; tool arguments are checked and the run goes on.
# JSON may spell a lone surrogate (\\ud800); Python reads it as a str that no UTF-8 holds.
# A run replaced it with U+FFFD; tool-test and cache explain were an internal error.
@pytest.mark.parametrize("kind", ["deterministic", "live"])
def test_a_lone_surrogate_in_tool_arguments_is_no_internal_error(
    tmp_path: Path, server: FakeServer, clean_env: Path, kind: str
) -> None:
    (tmp_path / "tools.py").write_text(ECHO, encoding="utf-8")
    server.openai.push(openai_tools(("echo", '{"q": "a\\ud800b"}')), openai_text("done"))
    crew = _write(
        tmp_path,
        {
            "name": "surrogate",
            "models": {
                "m": {"provider": "openai", "model": "gpt-4o-mini", "base_url": server.url + "/v1"}
            },
            "prices": {"m": {"input": 0, "output": 0}},
            "tools": {"echo": {"function": "tools.py:echo", "kind": kind}},
            "agents": {"a": {"role": "A", "model": "m", "tools": ["echo"]}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Echo."}],
        },
    )
    ran = runner.invoke(app, ["run", str(crew)])
    assert "internal error" not in ran.output
    assert ran.exit_code == 0, ran.output
    for given in (["--args", '{"q": "a\\ud800b"}'], ["--arg", "q=a\udcffb"]):  # JSON; argv bytes
        tested = runner.invoke(app, ["tool-test", "echo", "--crew", str(crew), *given])
        assert tested.exit_code == 0, tested.output
        assert "got a\ufffdb" in tested.stdout
        explained = runner.invoke(app, ["cache", "explain", "echo", "--crew", str(crew), *given])
        assert explained.exit_code == 0, explained.output


def _one_run(tmp_path: Path) -> None:
    crew = _write(
        tmp_path,
        {
            "name": "one",
            "agents": {"a": {"role": "A", "model": "offline"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
        },
    )
    assert runner.invoke(app, ["run", str(crew)]).exit_code == 0


# README, cost-report CI gates and "Across runs": `--fail-over USD`, `--since 7d` (or a date).
# A large amount or span, or the earliest date, was an internal error (decimal
# InvalidOperation, OverflowError), not a usage error or a report.
@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["cost-report", "--last", "--fail-over", "1e30"], 0, "is within --fail-over $1"),
        (["cost-report", "--all", "--fail-over", "99999999999999999999999999999"], 0, "within"),
        (["cost-report", "--since", "99999999999999d"], 2, "--since '99999999999999d'"),
        (["cost-report", "--since", "0001-01-01"], 0, "one"),
        (["cost-report", "--since", "0001-01-01T00:00:00+14:00"], 0, "one"),
        (["runs", "--since", "99999999999999h"], 2, "--since '99999999999999h'"),
    ],
)
def test_cost_report_amounts_and_spans_at_their_extremes_are_no_internal_error(
    tmp_path: Path, clean_env: Path, args: list[str], code: int, said: str
) -> None:
    _one_run(tmp_path)
    result = runner.invoke(app, args)
    assert "internal error" not in result.output
    assert result.exit_code == code, result.output
    assert said in result.output


# README, MCP: a server's `url` is its identity "without credentials"; STYLE and the secrets
# promise: a password written into a URL never reaches an error message. The scheme check
# quoted the whole URL, password and all.
def test_a_password_in_an_mcp_url_is_in_no_message_and_is_a_known_secret(
    tmp_path: Path, clean_env: Path
) -> None:
    from mas_cli.llm.keys import crew_secrets
    from mas_cli.spec.loader import load_crew

    password = "pw-canary-mcp-321"
    for url in (f"ftp://user:{password}@host/mcp", f"user:{password}@host/mcp"):
        crew = _write(
            tmp_path,
            {
                "name": "mcp-url",
                "tools": {"s": {"mcp": {"url": url}}},
                "agents": {"a": {"role": "A", "model": "offline", "tools": ["s"]}},
                "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
            },
        )
        for command in ("validate", "run"):
            result = runner.invoke(app, [command, str(crew)])
            assert result.exit_code == 2, result.output
            assert "tools.s.mcp: " in result.output
            assert "is not an http:// or https:// URL" in result.output
            assert password not in result.output
    crew = _write(
        tmp_path,
        {
            "name": "mcp-url",
            "tools": {"s": {"mcp": {"url": "https://user:pw%40canary-mcp-321@host/mcp"}}},
            "agents": {"a": {"role": "A", "model": "offline", "tools": ["s"]}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
        },
    )
    secrets = crew_secrets(load_crew(crew).spec, {})
    said = secrets.scrub("the server said pw@canary-mcp-321, then pw%40canary-mcp-321")
    assert said == "the server said ***, then ***"


CACHED_TOOL = '''
def look(q: str) -> str:
    """Look it up."""
    return "found " + q
'''


# README, the tool cache: "mas run shows `cached (saved 44 ms)` in its progress and mas show in
# its tree"; cost-report "Across runs": "A --replay run spends nothing new: it is left out and
# counted in a note". Each was tested only against real servers, or not at all.
def test_a_cache_hit_is_said_in_progress_and_tree_and_a_replay_is_left_out_of_spend(
    tmp_path: Path, clean_env: Path
) -> None:
    (tmp_path / "tools.py").write_text(CACHED_TOOL, encoding="utf-8")
    crew = _write(
        tmp_path,
        {
            "name": "cached",
            "tools": {"look": {"function": "tools.py:look", "kind": "deterministic"}},
            "agents": {"a": {"role": "A", "model": "offline", "tools": ["look"]}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Look up refunds."}],
        },
    )
    first = runner.invoke(app, ["run", str(crew)])
    assert first.exit_code == 0, first.output
    assert "cached (saved" not in first.output
    (run_id,) = [p.name for p in (clean_env / "runs").iterdir()]
    again = runner.invoke(app, ["run", str(crew), "--replay", run_id])
    assert again.exit_code == 0, again.output
    assert "look ok cached (saved " in again.stderr
    shown = runner.invoke(app, ["show", "--last"])
    assert "tool look ok cached (saved " in shown.stdout
    spend = runner.invoke(app, ["cost-report", "--all"])
    assert spend.exit_code == 0, spend.output
    assert "spend per crew per day · 1 run" in spend.stdout
    assert "1 replayed run not counted: a replay spends nothing new" in spend.output


# README: "Every limit has a default"; `mas run --limit NAME=VALUE` sets one for a run. A
# 400-digit value passed and then the run was an internal error (OverflowError).
def test_a_limit_given_on_the_command_line_is_bounded_like_the_crew_files(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = _write(
        tmp_path,
        {
            "name": "one",
            "agents": {"a": {"role": "A", "model": "offline"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
        },
    )
    result = runner.invoke(app, ["run", str(crew), "--limit", "max_tokens=1" + "0" * 400])
    assert "internal error" not in result.output
    assert result.exit_code == 2, result.output
    assert "--limit max_tokens: " in result.output


INTS = '''
def add(n: int, x: float = 0) -> float:
    """Add one."""
    return n + x + 1
'''


# README, tool-test: "--arg key=value, each value read as its parameter's type ... checked
# against the tool's schema before anything runs, with one message per bad field (exit 2)".
# An integer past Python's 4,300 digits was an internal error (ValueError from int()).
@pytest.mark.parametrize("name", ["n", "x"])
def test_an_arg_integer_past_4300_digits_is_a_bad_argument_not_an_internal_error(
    tmp_path: Path, clean_env: Path, name: str
) -> None:
    (tmp_path / "tools.py").write_text(INTS, encoding="utf-8")
    crew = _write(
        tmp_path,
        {
            "name": "ints",
            "tools": {"add": {"function": "tools.py:add"}},
            "agents": {"a": {"role": "A", "model": "offline", "tools": ["add"]}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
        },
    )
    given = ["--arg", f"{name}=1" + "0" * 5000] + (["--arg", "n=1"] if name == "x" else [])
    result = runner.invoke(app, ["tool-test", "add", "--crew", str(crew), *given])
    assert "internal error" not in result.output
    assert result.exit_code == 2, result.output
    assert f"add: {name}: " in result.output
    assert "the tool was not run" in result.output


HUGE_INT = "1" * 5000  # JSON holds it; Python's int() refuses past 4,300 digits (ValueError)


# README, guard rails: outputs are validated and an invalid answer is asked again; tool-call
# arguments that are not JSON are not a failure: the agent is told. A model writing an integer
# past 4,300 digits (in its answer, or in a tool call's arguments) was an internal error.
def test_a_models_integer_past_4300_digits_is_an_invalid_answer_not_an_internal_error(
    tmp_path: Path, server: FakeServer, clean_env: Path
) -> None:
    (tmp_path / "tools.py").write_text(ECHO, encoding="utf-8")
    answer = '{"n": ' + HUGE_INT + "}"
    server.openai.push(
        openai_tools(("echo", '{"q": ' + HUGE_INT + "}")),
        openai_text(answer),
        openai_text('{"n": 1}'),
    )
    crew = _write(
        tmp_path,
        {
            "name": "long-int",
            "models": {
                "m": {"provider": "openai", "model": "gpt-4o-mini", "base_url": server.url + "/v1"}
            },
            "prices": {"m": {"input": 0, "output": 0}},
            "tools": {"echo": {"function": "tools.py:echo"}},
            "agents": {"a": {"role": "A", "model": "m", "tools": ["echo"]}},
            "tasks": [
                {
                    "id": "t",
                    "agent": "a",
                    "prompt": "Count.",
                    "output_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
                }
            ],
        },
    )
    result = runner.invoke(app, ["run", str(crew), "--json"])
    assert "internal error" not in result.output
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tasks"]["t"]["data"] == {"n": 1}
    log = next(clean_env.glob("runs/*/events.jsonl")).read_text(encoding="utf-8")
    assert "4,300 digits" in log  # what the agent was told, twice


SHOWS = '''
def shows(n: int) -> str:
    """Say what it was given."""
    return f"{n!r}"
'''


# README, the tool cache key: "numbers normalized (1 and 1.0 are one key, and the tool is
# called with 1)"; tool-test: "--no-cache runs the tool every time, which is what a determinism
# check wants". With --no-cache a deterministic tool was called with 1.0, as no run calls it.
@pytest.mark.parametrize("cache", [[], ["--no-cache"]])
def test_a_deterministic_tool_is_called_with_normalized_numbers_with_or_without_the_cache(
    tmp_path: Path, clean_env: Path, cache: list[str]
) -> None:
    (tmp_path / "tools.py").write_text(SHOWS, encoding="utf-8")
    crew = _write(
        tmp_path,
        {
            "name": "numbers",
            "tools": {"shows": {"function": "tools.py:shows", "kind": "deterministic"}},
            "agents": {"a": {"role": "A", "model": "offline", "tools": ["shows"]}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
        },
    )
    given = ["--crew", str(crew), "--args", '{"n": 1.0}', "--json", *cache]
    result = runner.invoke(app, ["tool-test", "shows", *given])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runs"][0]["output"] == "1"


# README, Keys and secrets: a model's key, a header value, a base_url password are secrets
# from 6 characters (a variable known only by its name, from 8). The 6 was unsaid.
def test_a_known_secret_counts_from_six_characters(tmp_path: Path) -> None:
    from mas_cli.llm.keys import crew_secrets
    from mas_cli.spec.loader import load_crew

    def secrets_of(key: str) -> tuple[str, ...]:
        crew = _write(
            tmp_path,
            {
                "name": "short",
                "models": {
                    "m": {"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "MY_MODEL"}
                },
                "agents": {"a": {"role": "A", "model": "m"}},
                "tasks": [{"id": "t", "agent": "a", "prompt": "Hi."}],
            },
        )
        return crew_secrets(load_crew(crew).spec, {"MY_MODEL": key}).values

    assert secrets_of("abcdef") == ("abcdef",)
    assert secrets_of("abcde") == ()
