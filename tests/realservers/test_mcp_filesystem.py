"""The reference MCP filesystem server (`@modelcontextprotocol/server-filesystem`, from the npm
registry, pinned in install.py) as a crew's tools, run with node: the tools it really offers,
its own errors, the cache, `mas validate` and `mas tool-test`. It cannot install: the tests fail
with the install log's tail, never skip."""

from __future__ import annotations

import textwrap
from pathlib import Path

import install
import pytest
from crewkit import events, of_type, run
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()


@pytest.fixture(scope="session")
def filesystem_server() -> Path:
    try:
        return install.install_mcp_filesystem()
    except install.InstallError as err:
        pytest.fail(f"the MCP filesystem server could not be installed: {err}", pytrace=False)


def _crew(folder: Path, entry: Path, turns: str, agent_tools: str = "[files]") -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "notes.txt").write_text("ship on friday\n", encoding="utf-8")
    text = f"""\
        name: fs
        tools:
          files:
            mcp: {{command: [node, {entry}, ./data], env: {{FS_NOTE: "${{FS_SOURCE}}"}}}}
            include: [read_text_file, list_directory, write_file]
            kind: {{read_text_file: deterministic, list_directory: deterministic, write_file: side_effect}}
        agents:
          clerk:
            role: Clerk
            model: offline
            tools: {agent_tools}
            script:
        """
    body = textwrap.dedent(text) + textwrap.indent(textwrap.dedent(turns), "      ")
    body += "tasks:\n  - {id: file, agent: clerk, prompt: File it.}\n"
    (folder / "crew.yaml").write_text(body, encoding="utf-8")
    return folder / "crew.yaml"


def test_reads_lists_writes_and_is_refused_outside_its_folder(
    filesystem_server: Path, tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-fs-5b7d21c0"
    monkeypatch.setenv("FS_SOURCE", canary)
    data = tmp_path / "crew" / "data"
    turns = f"""\
        - tool_calls:
            - {{name: files.read_text_file, arguments: {{path: {data / "notes.txt"}}}}}
            - {{name: files.list_directory, arguments: {{path: {data}}}}}
            - {{name: files.read_text_file, arguments: {{path: /etc/hostname}}}}
            - {{name: files.write_file, arguments: {{path: {data / "out.txt"}, content: filed}}}}
        - text: done
        """
    path = _crew(tmp_path / "crew", filesystem_server, turns)
    # The four calls of one turn run at once: their events come in the order they end.
    first = sorted(of_type(events(run(path, clean_env)), "tool_call"), key=lambda c: c["status"])
    assert sorted((c["tool"], c["server"], c["status"]) for c in first) == [
        ("files.list_directory", "files", "ok"),
        ("files.read_text_file", "files", "error"),
        ("files.read_text_file", "files", "ok"),
        ("files.write_file", "files", "ok"),
    ]
    assert "outside allowed directories" in first[0]["error"]
    assert (data / "out.txt").read_text() == "filed"
    second = of_type(events(run(path, clean_env)), "tool_call")
    cached = sorted((c["tool"], c["status"], c["cached"]) for c in second)
    assert cached == [
        ("files.list_directory", "ok", True),
        ("files.read_text_file", "error", False),  # a failure is never cached
        ("files.read_text_file", "ok", True),
        ("files.write_file", "ok", False),  # a side effect never is
    ]
    for file in (p for p in clean_env.rglob("*") if p.is_file()):
        assert canary not in file.read_text(errors="replace"), file


def test_validate_lists_its_tools_and_names_a_typo(
    filesystem_server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FS_SOURCE", "x")
    good = _crew(tmp_path / "good", filesystem_server, "- text: done\n")
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.stderr
    assert "offers " in result.stdout
    assert "read_text_file" in result.stdout
    typo = _crew(tmp_path / "typo", filesystem_server, "- text: done\n")
    typo.write_text(typo.read_text().replace("list_directory", "list_directry"))
    result = runner.invoke(app, ["validate", str(typo)])
    assert result.exit_code == 2
    assert (
        "tools.files.include[1]: the MCP server files offers no tool 'list_directry' "
        "(did you mean 'list_directory'?)"
    ) in result.stderr


def test_tool_test_reads_a_file(
    filesystem_server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FS_SOURCE", "x")
    path = _crew(tmp_path / "crew", filesystem_server, "- text: done\n")
    monkeypatch.chdir(path.parent)
    notes = str(path.parent / "data" / "notes.txt")
    result = runner.invoke(app, ["tool-test", "files.read_text_file", "--arg", f"path={notes}"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "ship on friday" in result.stdout
