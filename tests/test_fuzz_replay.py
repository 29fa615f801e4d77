"""The replay reader under attack: a real llm.jsonl from an example crew, mutated; and each
malformed record shape, which must be a usage error naming the file and line."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from fuzzlogs import ROOT, cli, copy_home, mutate_log, run_examples, seeds, write
from hypothesis import HealthCheck, given, settings

CREW = str(ROOT / "crews" / "support-ticket" / "crew.yaml")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding real runs of the example crews (support-ticket first)."""
    home = tmp_path_factory.mktemp("replay-home")
    run_examples(home)
    return home


def _support_run(home: Path) -> Path:
    return next(r for r in sorted((home / "runs").iterdir()) if "support" in r.joinpath(
        "events.jsonl").read_text(encoding="utf-8").split("\n", 1)[0])  # fmt: skip


def _replay(home: Path) -> Any:
    return cli("run", CREW, "--replay", _support_run(home).name, "--home", str(home), "--quiet")


def test_an_unchanged_recording_replays(recorded: Path, tmp_path: Path) -> None:
    assert _replay(copy_home(recorded, tmp_path / "home")).exit_code == 0


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=seeds)
def test_a_mutated_recording_never_crashes_a_replay(
    recorded: Path, tmp_path: Path, seed: int
) -> None:
    home = copy_home(recorded, tmp_path / "home")
    log = _support_run(home) / "llm.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    write(log, mutate_log(lines, random.Random(seed)))
    _replay(home)


def _set(path: str, value: Any) -> Any:
    def edit(record: dict[str, Any]) -> Any:
        *parents, last = path.split(".")
        node = record
        for step in parents:
            node = node[int(step)] if isinstance(node, list) else node[step]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
        return record

    return edit


MALFORMED = {
    "not JSON": lambda _: "{not json",
    "a JSON array": lambda r: [r],
    "no agent": _set("agent", KeyError),
    "turn as text": _set("turn", "1"),
    "turn zero": _set("turn", 0),
    "request not an object": _set("request", "hello"),
    "neither response nor error": _set("response", KeyError),
    "both response and error": _set("error", {"kind": "x", "retryable": False, "message": "m"}),
    "no message": _set("response.message", KeyError),
    "a bogus role": _set("response.message.role", "wizard"),
    "tool calls not a list": _set("response.message.tool_calls", {"name": "x"}),
    "negative tokens": _set("response.usage.output_tokens", -5),
    "31-digit tokens": _set("response.usage.input_tokens", 10**31),
    "tokens as a float": _set("response.usage.input_tokens", 1e308),
    "unknown usage source": _set("response.usage.source", "guess"),
    "content not text": _set("response.message.content", {"text": "hi"}),
    "usage not an object": _set("response.usage", [1, 2]),
}


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_each_malformed_record_is_a_clear_error(recorded: Path, tmp_path: Path, shape: str) -> None:
    home = copy_home(recorded, tmp_path / "home")
    log = _support_run(home) / "llm.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    edited = MALFORMED[shape](json.loads(lines[1]))
    lines[1] = edited if isinstance(edited, str) else json.dumps(edited)
    write(log, "\n".join(lines) + "\n")
    result = _replay(home)
    assert result.exit_code == 2
    assert "llm.jsonl:2: " in result.output
    assert "run without --replay to record anew" in result.output


def test_a_malformed_record_names_its_field(recorded: Path, tmp_path: Path) -> None:
    home = copy_home(recorded, tmp_path / "home")
    log = _support_run(home) / "llm.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    lines[1] = json.dumps(_set("response.usage.output_tokens", -5)(json.loads(lines[1])))
    write(log, "\n".join(lines) + "\n")
    result = _replay(home)
    assert (
        "llm.jsonl:2: response.usage.output_tokens: Input should be greater than or equal to 0"
        in result.stderr
    )
