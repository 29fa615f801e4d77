"""MCP servers in the crew file: the shape, located errors with did-you-mean, `${VAR}` secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mas_cli.errors import SpecError
from mas_cli.llm.keys import crew_secrets
from mas_cli.spec.loader import load_crew
from mas_cli.spec.mcp import McpServerSpec, expand, missing_variables


def problems(tmp_path: Path, tools: str, agent_tools: str = "[srv]") -> list[str]:
    text = (
        "name: t\ntools:\n"
        + textwrap.indent(textwrap.dedent(tools), "  ")
        + f"agents:\n  a: {{role: A, model: offline, tools: {agent_tools}}}\n"
        + "tasks:\n  - {id: t, agent: a, prompt: P}\n"
    )
    path = tmp_path / "crew.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_crew(path)
    return [str(p).split("crew.yaml:", 1)[1] for p in caught.value.problems]


def test_one_transport(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "srv:\n  mcp: {command: [python, s.py], url: 'http://127.0.0.1/mcp'}\n"
    )
    assert found == [
        "4:10: tools.srv.mcp: give exactly one of `command:` (stdio) or `url:` (streamable HTTP)"
    ]


def test_headers_belong_to_a_url_server(tmp_path: Path) -> None:
    found = problems(tmp_path, "srv:\n  mcp: {command: [python], headers: {A: b}}\n")
    assert found == ["4:10: tools.srv.mcp: `headers:` are for a `url:` server; use `env:`"]


def test_a_variable_in_the_command_is_refused_not_passed_as_written(tmp_path: Path) -> None:
    # Was passed to the server as the text `--token=${MY_TOKEN}`, with no word from mas.
    found = problems(tmp_path, "srv:\n  mcp: {command: [python, s.py, '--token=${MY_TOKEN}']}\n")
    assert found == [
        "4:10: tools.srv.mcp: `${MY_TOKEN}` in `command:` is not replaced (an argument is seen "
        'by every process on the machine); give it through `env: {MY_TOKEN: "${MY_TOKEN}"}` '
        "and have the server read it"
    ]


def test_a_url_must_be_http(tmp_path: Path) -> None:
    found = problems(tmp_path, "srv:\n  mcp: {url: 'ftp://127.0.0.1/mcp'}\n")
    assert found == [
        "4:10: tools.srv.mcp: url is not an http:// or https:// URL "
        "(not shown: it may hold a password)"
    ]


def test_mcp_with_a_function_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, "srv:\n  mcp: {command: [python]}\n  function: t.py:f\n")
    assert found == ["4:5: tools.srv: give exactly one of `function:`, `command:` or `mcp:`"]


def test_fields_an_mcp_server_does_not_take(tmp_path: Path) -> None:
    found = problems(tmp_path, "srv:\n  mcp: {command: [python]}\n  parameters: {q: {}}\n")
    assert found == ["4:5: tools.srv: `parameters:` does not apply to an `mcp:` server (it says)"]


def test_include_is_only_for_mcp(tmp_path: Path) -> None:
    found = problems(tmp_path, "srv:\n  command: [python]\n  include: [x]\n")
    assert found == ["4:5: tools.srv: `include:` and a kind per tool are for an `mcp:` server"]


def test_an_agent_names_a_tool_left_out_by_include(tmp_path: Path) -> None:
    tools = "srv:\n  mcp: {command: [python]}\n  include: [read_file, list_directory]\n"
    found = problems(tmp_path, tools, "[srv.red_file]")
    assert found == [
        "7:40: agents.a.tools[0]: 'red_file' is not in tools.srv.include (did you mean 'read_file'?)"
    ]


def test_an_unknown_server_gets_did_you_mean(tmp_path: Path) -> None:
    tools = "files:\n  mcp: {command: [python]}\n  include: [read_file]\n"
    found = problems(tmp_path, tools, "[file.read_file]")
    assert found == [
        "7:40: agents.a.tools[0]: tool 'file.read_file' is not defined (did you mean 'files.read_file'?)"
    ]


def test_a_dotted_name_on_a_plain_tool(tmp_path: Path) -> None:
    found = problems(tmp_path, "srv:\n  command: [python]\n", "[srv.x]")
    assert found == [
        "6:40: agents.a.tools[0]: 'srv' is not an MCP server, so 'srv.x' names nothing (write 'srv')"
    ]


def test_kind_and_examples_must_name_included_tools(tmp_path: Path) -> None:
    tools = """\
        srv:
          mcp: {command: [python]}
          include: [read_file]
          kind: {reed_file: deterministic}
          examples:
            - {read_fil: {path: a}}
            - {read_file: {path: a}, other: {}}
    """
    assert problems(tmp_path, tools) == [
        "6:12: tools.srv.kind.reed_file: 'reed_file' is not in include: (did you mean 'read_file'?)",
        "8:9: tools.srv.examples[0]: 'read_fil' is not in include: (did you mean 'read_file'?)",
        "9:9: tools.srv.examples[1]: an MCP example is one tool and its arguments (write {read_file: {path: notes.txt}})",
    ]


def test_a_variable_must_be_a_name_and_never_a_model_key(tmp_path: Path) -> None:
    tools = """\
        srv:
          mcp: {command: [python], env: {A: "${1BAD}", B: "${OPENAI_API_KEY}"}}
    """
    assert problems(tmp_path, tools) == [
        "4:39: tools.srv.mcp.env.A: '${1BAD}' is not a variable name (letters, digits and _) (write ${NAME}, e.g. ${SEARCH_TOKEN})",
        "4:53: tools.srv.mcp.env.B: OPENAI_API_KEY holds a model's key and is never passed to a tool (give the server its own credential in another variable)",
    ]


def test_a_missing_program_is_found_before_the_run(tmp_path: Path) -> None:
    found = problems(tmp_path, "srv:\n  mcp: {command: [no-such-server-x]}\n")
    assert found == [
        "4:21: tools.srv.mcp.command[0]: 'no-such-server-x' is not on PATH and not a file next to the crew (install it, or give its path)"
    ]


def test_a_program_that_is_no_executable_is_named_as_such_not_as_missing(
    tmp_path: Path,
) -> None:
    # Was "'./server.sh' is not on PATH and not a file next to the crew": it is a file there.
    (tmp_path / "server.sh").write_text("#!/bin/sh\nexec python server.py\n")
    (tmp_path / "servers").mkdir()
    found = problems(
        tmp_path,
        "srv:\n  mcp: {command: [./server.sh]}\ndir:\n  mcp: {command: [./servers]}\n",
        agent_tools="[srv, dir]",
    )
    assert found == [
        "4:21: tools.srv.mcp.command[0]: './server.sh' is a file but not executable "
        "(chmod +x it, or name its interpreter first: [sh, ./server.sh])",
        "6:21: tools.dir.mcp.command[0]: './servers' is a folder, not a program "
        "(name the program inside it)",
    ]


def test_variables_expand_and_are_secrets() -> None:
    env = {"TOKEN": "tok-123456789", "HOST": "127.0.0.1"}
    assert expand("Bearer ${TOKEN}", env) == "Bearer tok-123456789"
    with pytest.raises(KeyError):
        expand("${NOPE}", env)
    server = McpServerSpec(url="http://${HOST}/mcp", headers={"Authorization": "Bearer ${TOKEN}"})
    assert "tok" not in server.identity()
    assert "Bearer" not in server.identity()


def test_crew_secrets_cover_what_servers_are_given(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: t
        tools:
          srv: {mcp: {url: "http://127.0.0.1:1/mcp", headers: {X-Api: "k-${PLAIN_NAME}"}}}
        agents: {a: {role: A, model: offline, tools: [srv]}}
        tasks: [{id: t, agent: a, prompt: P}]
        """
    )
    (tmp_path / "crew.yaml").write_text(text, encoding="utf-8")
    spec = load_crew(tmp_path / "crew.yaml").spec
    secrets = crew_secrets(spec, {"PLAIN_NAME": "value-abcdef"})
    assert secrets.scrub("k-value-abcdef and value-abcdef") == "*** and ***"
    assert missing_variables(spec, {}) == ["tools.srv.mcp.headers.X-Api: PLAIN_NAME is not set"]


def test_typos_inside_mcp_and_kind_get_did_you_mean(tmp_path: Path) -> None:
    tools = "srv: {mcp: {comand: [python]}, includ: [good], kind: {good: determinstic}}\n"
    assert problems(tmp_path, tools) == [
        "3:15: tools.srv.mcp.comand: unknown key 'comand' (did you mean 'command'?)",
        "3:34: tools.srv.includ: unknown key 'includ' (did you mean 'include'?)",
        "3:63: tools.srv.kind.good: 'determinstic' is not allowed (did you mean 'deterministic'?)",
    ]
