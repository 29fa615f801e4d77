"""Structure-aware fuzzing of every reader, through the CLI: real logs from the example crews,
mutated (wrong types, deleted keys, 31-digit integers, 1e308, deep nesting, control characters,
NUL, lone surrogates, cut lines). The boundary must hold: exit 0/1/2, never an internal error."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from fuzzlogs import (
    ROOT,
    as_agents,
    as_otlp,
    cli,
    copy_home,
    events,
    mutate_line,
    mutate_log,
    run_examples,
    seeds,
    write,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples every run: CI never flakes on a new one
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real runs of the example crews, and their calls in every format the readers know."""
    home = tmp_path_factory.mktemp("fuzz-home")
    runs = run_examples(home)
    mas = [(r / "events.jsonl").read_text(encoding="utf-8").splitlines() for r in runs]
    every = [e for r in runs for e in events(r)]
    return {"home": home, "runs": runs, "mas": mas, "otlp": as_otlp(every),
            "agents": as_agents(every)}  # fmt: skip


def test_the_unmutated_logs_read_clean(real: dict[str, Any], tmp_path: Path) -> None:
    for i, lines in enumerate(real["mas"]):
        log = write(tmp_path / f"{i}.jsonl", "\n".join(lines) + "\n")
        result = cli("cost-report", str(log), "--json")
        assert json.loads(result.stdout)  # the fast path read the whole real log
    for kind in ("otlp", "agents"):
        log = write(tmp_path / f"{kind}.jsonl", "\n".join(real[kind]) + "\n")
        assert "unreadable" not in cli("triage", "loops", str(log)).output


@FUZZ
@given(data=st.data(), command=st.sampled_from(["loops", "cost", "show", "text", "loops-json"]))
def test_mas_logs_mutated(real: dict[str, Any], tmp_path: Path, data: Any, command: str) -> None:
    lines = data.draw(st.sampled_from(real["mas"]))
    log = str(write(tmp_path / "events.jsonl", mutate_log(lines, random.Random(data.draw(seeds)))))
    argv = {
        "loops": ["triage", "loops", log],
        "loops-json": ["triage", "loops", log, "--json"],
        "cost": ["cost-report", log, "--format", "csv"],
        "show": ["show", log],
        "text": ["triage", "loops", log, "--log-format", "text"],
    }[command]
    cli(*argv)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["otlp", "agents"]), cost=st.booleans())
def test_otlp_and_agents_logs_mutated(
    real: dict[str, Any], tmp_path: Path, data: Any, kind: str, cost: bool
) -> None:
    log = str(
        write(tmp_path / "spans.jsonl", mutate_log(real[kind], random.Random(data.draw(seeds))))
    )
    cli(*(["cost-report", log] if cost else ["triage", "loops", log, "--json"]))


@FUZZ
@given(data=st.data(), command=st.sampled_from(["runs", "show", "cost"]))
def test_a_home_with_a_mutated_run(
    real: dict[str, Any], tmp_path: Path, data: Any, command: str
) -> None:
    home = copy_home(real["home"], tmp_path / "home")
    run = data.draw(st.sampled_from(sorted((home / "runs").iterdir())))
    name = data.draw(st.sampled_from(["events.jsonl", "output.json", "state.json"]))
    target = run / name
    if name == "events.jsonl":
        text = mutate_log(
            target.read_text(encoding="utf-8").splitlines(), random.Random(data.draw(seeds))
        )
    else:
        text = mutate_line(
            json.dumps(json.loads(target.read_text(encoding="utf-8"))),
            random.Random(data.draw(seeds)),
        )
    write(target, text)
    argv = {
        "runs": ["runs", "--home", str(home), "--json"],
        "show": ["show", run.name, "--home", str(home)],
        "cost": ["cost-report", "--last", "--home", str(home)],
    }[command]
    cli(*argv)


@FUZZ
@given(which=st.integers(0, 3), seed=seeds)
def test_state_files_mutated(real: dict[str, Any], tmp_path: Path, which: int, seed: int) -> None:
    run = real["runs"][which]
    state = json.dumps(json.loads((run / "state.json").read_text(encoding="utf-8")))
    path = write(tmp_path / "state.json", mutate_line(state, random.Random(seed)))
    crew = ROOT / "crews" / "fraud-review" / "crew.yaml"
    cli("triage", "state", str(path), "--crew", str(crew), "--log", str(run / "events.jsonl"))


@pytest.mark.parametrize("cost", [1e308, -1e308, float("inf"), float("nan"), 10**31])
def test_huge_and_non_finite_costs_and_counts(tmp_path: Path, cost: float) -> None:
    from triage_logs import jsonl, llm, otlp_line, otlp_span
    from triage_logs import run as a_run

    calls = [llm(n, cost_usd=cost, off_schema={"input_tokens": 10**18}) for n in (1, 2, 3)]
    mas = write(tmp_path / "mas.jsonl", jsonl(a_run(*calls)))
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.agent.name": "x",
             "gen_ai.usage.cost": float(cost), "gen_ai.usage.input_tokens": 10**31}  # fmt: skip
    otlp = write(tmp_path / "otlp.jsonl", otlp_line(otlp_span("a" * 16, "", "chat", attrs)))
    for log in (str(mas), str(otlp)):
        for argv in (["cost-report", log], ["cost-report", log, "--json"], ["show", log],
                     ["triage", "loops", log, "--json"]):  # fmt: skip
            cli(*argv)
