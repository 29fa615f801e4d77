"""`$ref` in a schema is resolved inside it, never fetched: a URL or file `$ref` and a cycle of
references are located errors of the crew file, and a validator that meets one anyway (a
schema an MCP server sent) fails the value with the reason instead of fetching or crashing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.spec.patterns import schema_validator

runner = CliRunner()


@pytest.fixture
def schema_host() -> Iterator[tuple[str, list[str]]]:
    """A server holding a schema, and the paths it was asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"type": "object"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/schema.json", asked
    finally:
        server.shutdown()
        server.server_close()


def _crew(tmp_path: Path, schema: dict[str, Any]) -> Path:
    return write_crew(
        tmp_path,
        f"""
        name: t
        models: {{m: offline}}
        agents:
          a: {{role: r, model: m}}
        tasks:
          - id: t1
            agent: a
            prompt: hi
            output_schema: {json.dumps(schema)}
        """,
    )


def _refused(crew: Path, says: str) -> None:
    for command in ("validate", "run"):
        result = runner.invoke(app, [command, str(crew)])
        assert result.exit_code == 2, result.output
        assert "internal error" not in result.output
        assert "crew.yaml:10:" in result.stderr
        assert says in result.stderr


def test_a_url_ref_is_a_located_error_and_never_fetched(
    tmp_path: Path, schema_host: tuple[str, list[str]]
) -> None:
    url, asked = schema_host
    crew = _crew(tmp_path, {"type": "object", "properties": {"x": {"$ref": url}}})
    _refused(crew, f"tasks[t1].output_schema.properties.x.$ref: $ref '{url}' does not resolve")
    assert "never fetches a URL or file" in runner.invoke(app, ["validate", str(crew)]).stderr
    assert asked == []


def test_a_file_ref_is_a_located_error(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"type": "object"}), encoding="utf-8")
    crew = _crew(tmp_path, {"$ref": other.as_uri()})
    _refused(crew, f"tasks[t1].output_schema.$ref: $ref '{other.as_uri()}' does not resolve")


def test_a_ref_to_nothing_is_a_located_error(tmp_path: Path) -> None:
    crew = _crew(tmp_path, {"$defs": {"a": {"type": "string"}}, "$ref": "#/$defs/b"})
    _refused(crew, "tasks[t1].output_schema.$ref: $ref '#/$defs/b' does not resolve")


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "$defs.a.$ref"),
        ({"$ref": "#"}, "output_schema.$ref"),
        (
            {
                "$defs": {
                    "a": {"allOf": [{"$ref": "#/$defs/b"}]},
                    "b": {"anyOf": [{"$ref": "#/$defs/a"}]},
                },
                "properties": {"x": {"$ref": "#/$defs/a"}},
            },
            "$defs.a.allOf[0].$ref",
        ),
    ],
)
def test_a_cycle_of_refs_that_never_goes_into_the_value_is_a_located_error(
    tmp_path: Path, schema: dict[str, Any], where: str
) -> None:
    crew = _crew(tmp_path, schema)
    _refused(crew, f"{where}: $ref")
    assert "leads back to itself without going into the value" in (
        runner.invoke(app, ["validate", str(crew)]).stderr
    )


def test_refs_inside_the_schema_and_to_a_metaschema_still_validate(tmp_path: Path) -> None:
    node = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "kids": {"items": {"$ref": "#/$defs/node"}}},
        "required": ["name"],
    }
    schema = {
        "$defs": {"node": node, "meta": {"$ref": "https://json-schema.org/draft/2020-12/schema"}},
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/node"}, "s": {"$ref": "#/$defs/meta"}},
    }
    result = runner.invoke(app, ["validate", str(_crew(tmp_path, schema))])
    assert result.exit_code == 0, result.output
    checker = schema_validator(schema)
    assert checker.is_valid({"tree": {"name": "a", "kids": [{"name": "b"}]}, "s": {}})
    assert not checker.is_valid({"tree": {"name": "a", "kids": [{}]}})


def test_a_schema_from_elsewhere_with_a_url_ref_fails_the_value_and_fetches_nothing(
    schema_host: tuple[str, list[str]],
) -> None:
    url, asked = schema_host
    schema = {"type": "object", "properties": {"q": {"$ref": url}}}  # as an MCP server may send
    checker = schema_validator(schema)
    assert not checker.is_valid({"q": "x"})
    [error] = list(checker.iter_errors({"q": "x"}))
    assert f"$ref '{url}' cannot be resolved" in error.message
    assert asked == []


def test_a_schema_from_elsewhere_with_a_ref_loop_fails_the_value_without_recursing() -> None:
    checker = schema_validator({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})
    assert not checker.is_valid("x")
    [error] = list(checker.iter_errors("x"))
    assert "refer to each other without end" in error.message
