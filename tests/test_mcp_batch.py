"""A batch starts each MCP server once and shares it across its items (stdio and streamable
HTTP), closes it at the batch's end, and restarts it whenever it dies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcpkit import SERVER, alive, http_server
from typer.testing import CliRunner

from mas_cli.cli import app


def crew(folder: Path, server: str, tool: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "crew.yaml"
    path.write_text(
        f"""
name: mcp-batch
inputs:
  item: {{description: The item}}
models:
  m: offline
tools:
  srv: {server}
agents:
  a:
    role: Worker
    model: m
    tools: [srv]
    script:
      turns:
        - tool_calls: [{{name: srv.{tool}, arguments: {{}}}}]
        - text: done
tasks:
  - {{id: work, agent: a, prompt: "Work on {{item}}."}}
""",
        encoding="utf-8",
    )
    return path


def batch(home: Path, crew_path: Path, items: int, *args: str) -> Any:
    rows = tmp_items(home.parent / "items.jsonl", items)
    argv = ["batch", str(crew_path), "--inputs", str(rows), "-q", "--home", str(home), *args]
    return CliRunner().invoke(app, argv)


def tmp_items(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"item": f"x{n}"}) + "\n" for n in range(count)))
    return path


def results(home: Path) -> list[dict[str, Any]]:
    (folder,) = (home / "batches").iterdir()
    lines = (folder / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def stdio(env: str = "") -> str:
    return f"{{mcp: {{command: [python, {SERVER}], env: {{COUNT_STARTS: '1'{env}}}}}}}"


def test_a_stdio_server_starts_once_for_a_batch_of_many_items(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    home = tmp_path / "home"
    result = batch(home, crew(folder, stdio(), "pids"), 40, "-c", "4")
    assert result.exit_code == 0, result.stderr
    assert [r["status"] for r in results(home)] == ["ok"] * 40
    starts = (folder / "starts.txt").read_text().split()
    assert len(starts) == 1  # not one per item
    pids = json.loads((folder / "pids.json").read_text())
    assert pids["server"] == int(starts[0])
    assert not alive(pids["server"])  # closed at the batch's end, with its tree
    assert not alive(pids["child"])


def test_an_http_server_serves_every_item_of_a_batch(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    home = tmp_path / "home"
    with http_server(folder) as url:
        result = batch(home, crew(folder, f"{{mcp: {{url: {url}}}}}", "pids"), 20, "-c", "4")
    assert result.exit_code == 0, result.stderr
    assert [r["status"] for r in results(home)] == ["ok"] * 20


def test_a_server_that_dies_is_restarted_for_the_next_items(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    home = tmp_path / "home"
    # crash kills the server twice: the first item's call and its call made again after the
    # restart; the item fails, and the next item's call starts the server again.
    result = batch(home, crew(folder, stdio(", CRASH_TIMES: '2'"), "crash"), 6, "-c", "1")
    statuses = [r["status"] for r in results(home)]
    assert statuses == ["failed"] + ["ok"] * 5, result.stderr
    assert len((folder / "starts.txt").read_text().split()) == 3  # the first, two restarts
