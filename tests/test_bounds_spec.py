"""Loading a crew file costs memory and time that follow the file, not what an attacker packs in it."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mas_cli.errors import SpecError, UsageError
from mas_cli.spec.loader import MAX_CREW_CHARS, load_crew
from mas_cli.spec.yamlpos import MAX_ALIAS_NODES

HEAD = """name: big
process: {process}
models:
  fast: {{provider: offline, model: m}}
state:
  score: {{type: number}}
agents:
  a: {{role: r, goal: g, model: fast}}
tasks:
"""

LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@contextmanager
def peak_mb() -> Iterator[list[float]]:
    """The peak of memory allocated inside the block, in MB."""
    result: list[float] = []
    tracemalloc.start()
    try:
        yield result
    finally:
        result.append(tracemalloc.get_traced_memory()[1] / 1e6)
        tracemalloc.stop()


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_crew(path)
    return [str(p) for p in caught.value.problems]


def test_billion_laughs_stops_at_the_alias_bound(tmp_path: Path) -> None:
    # 9**9 values: 58 s and 3.4 GB before the bound; now MAX_ALIAS_NODES values are built.
    crew = tmp_path / "laughs.yaml"
    crew.write_text(LAUGHS)
    assert len(LAUGHS) < 500
    assert _problems(crew) == [
        f"{crew}:5:4: aliases expand to more than {MAX_ALIAS_NODES:,} values (at *e) "
        "(aliases nested inside aliases multiply; write the values out, or nest fewer)"
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: x\nagents: &a\n  b: {role: r, goal: g, model: m, extra: *a}\n", "2:9"),
        ("name: x\nmodels: &m\n  <<: *m\n", "2:9"),
        ("name: x\nmodels: &m [1, [2, *m]]\n", "2:9"),
    ],
    ids=["alias-in-itself", "self-merge", "nested"],
)
def test_an_anchor_containing_itself_is_a_located_error(
    tmp_path: Path, text: str, where: str
) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(text)
    name = "a" if "&a" in text else "m"
    assert _problems(crew) == [
        f"{crew}:{where}: the alias *{name} is used inside its own anchor &{name} "
        "(an anchor cannot contain or merge itself; write the values out)"
    ]


def test_aliases_reused_many_times_still_load(tmp_path: Path) -> None:
    crew = tmp_path / "crew.yaml"
    tasks = "".join(f"  - {{<<: *task, id: t{i}, prompt: 'Go {i}.'}}\n" for i in range(2000))
    crew.write_text(
        HEAD.format(process="sequential")
        .replace("tasks:\n", "x-task: &task {agent: a}\ntasks:\n")
        .replace("name: big\n", "name: big\n")
        + tasks
    )
    with pytest.raises(SpecError) as caught:  # x-task is not a crew key: the only problem
        load_crew(crew)
    assert [p.message for p in caught.value.problems] == ["unknown key 'x-task'"]


def _big_crew(tmp_path: Path, process: str, n: int) -> Path:
    lines = [HEAD.format(process=process)]
    for i in range(n):
        dep = f", depends_on: [t{i - 1}]" if process == "parallel" and i else ""
        prompt = f"Use {{t{i - 1}}} and {{t0}}." if i > 1 else "Go."
        lines.append(
            f'  - {{id: t{i}, agent: a, prompt: "{prompt}"{dep}, '
            "output_schema: {type: object, properties: {s: {type: number}}}, writes: {s: score}}\n"
        )
    path = tmp_path / f"{process}.yaml"
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("process", ["sequential", "parallel"])
def test_checks_of_a_large_crew_take_memory_linear_in_its_tasks(
    tmp_path: Path, process: str
) -> None:
    # 1,500 tasks in a chain, each naming the first and the one before it, all writing one key:
    # the transitive sets of every task above every task took 60 MB more here (quadratic).
    path = _big_crew(tmp_path, process, 1500)
    with peak_mb() as peak:
        crew = load_crew(path)
    assert len(crew.spec.tasks) == 1500
    assert not [w for w in crew.warnings if w.code == "lost-update"]
    assert peak[0] < 40, f"{peak[0]:.0f} MB"


PARALLEL = """name: p
process: parallel
models:
  fast: {provider: offline, model: m}
state:
  score: {type: number}
agents:
  a: {role: r, goal: g, model: fast}
tasks:
  - {id: first, agent: a, prompt: "Go.", output_schema: {type: object}, writes: {s: score}}
  - {id: second, agent: a, prompt: "After {first}.", depends_on: [first]}
  - {id: third, agent: a, prompt: "After {first}, {secnd}.", depends_on: [second], output_schema: {type: object}, writes: {s: score}}
  - {id: loose, agent: a, prompt: "Beside {first} and {frist}.", output_schema: {type: object}, writes: {s: score}}
  - {id: looser, agent: a, prompt: "Go.", output_schema: {type: object}, writes: {s: score}}
"""


def test_precedence_in_a_parallel_crew_is_transitive_and_exact(tmp_path: Path) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(PARALLEL)
    messages = [p.split(": ", 2)[2] for p in _problems(crew)]
    assert messages == [
        "{secnd} is not an input, an upstream task or a state key (did you mean 'second'?)",
        "{first} names task 'first', which does not finish before 'loose' (add 'first' to depends_on)",
        "{frist} is not an input, an upstream task or a state key (expected one of: score)",
    ]
    crew.write_text(PARALLEL.replace("{first} and {frist}", "nothing").replace(", {secnd}", ""))
    lost = [w.message for w in load_crew(crew).warnings if w.code == "lost-update"]
    assert [m.split(" can run")[0] for m in lost] == [
        "tasks 'first' and 'loose'",  # third follows first through second: never paired
        "tasks 'third' and 'loose'",
        "tasks 'first' and 'looser'",
    ]


@pytest.mark.parametrize("endless", ["/dev/zero", "/dev/urandom"])
def test_an_endless_crew_file_is_refused_after_a_bounded_read(tmp_path: Path, endless: str) -> None:
    crew = tmp_path / "crew.yaml"
    crew.symlink_to(endless)
    with peak_mb() as peak, pytest.raises(UsageError) as raised:
        load_crew(crew)
    assert str(crew) in str(raised.value)
    assert peak[0] < 8 * MAX_CREW_CHARS / 1e6  # a few copies of the cap, not the whole device


def test_a_crew_file_past_the_cap_is_refused_and_one_under_it_loads(tmp_path: Path) -> None:
    prompt = "x" * (MAX_CREW_CHARS - 4096)  # a long prompt: still a crew file
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        HEAD.format(process="sequential") + f"  - {{id: t, agent: a, prompt: {prompt}}}\n"
    )
    assert load_crew(crew).spec.tasks[0].prompt == prompt
    with crew.open("a") as handle:
        handle.write("# " + "y" * 8192 + "\n")
    with pytest.raises(UsageError, match="longer than 16,777,216 characters, the most a crew"):
        load_crew(crew)


HUGE = "1" + "0" * 400  # a whole number no float holds
NUMBERS = {
    "limit": ("limits: {max_tokens: HUGE}", "limits.max_tokens"),
    "history": ("limits: {max_history_tokens: HUGE}", "limits.max_history_tokens"),
    "agent": ("agents: {a: {role: r, model: m, max_llm_calls: HUGE}}", "agents.a.max_llm_calls"),
    "output cap": (
        "models: {m: {provider: offline, model: m, max_tokens: HUGE}}",
        "models.m.max_tokens",
    ),
    "tool": ("tools: {f: {command: [echo], max_output_bytes: HUGE}}", "tools.f.max_output_bytes"),
    "price": ("prices: {m: {input: 1e400, output: 0}}", "prices.m.input"),
    "rate": ("rate_limits: {m: {tpm: HUGE}}", "rate_limits.m.tpm"),
}


@pytest.mark.parametrize("case", sorted(NUMBERS))
def test_a_number_past_what_the_budget_arithmetic_holds_is_a_located_error(
    tmp_path: Path, case: str
) -> None:
    # A 400-digit max_tokens passed `mas validate`, then made it (and the run) an internal
    # error: OverflowError, int too large to convert to float; a price of 1e400 likewise.
    line, where = NUMBERS[case]
    text = "name: n\nmodels: {m: {provider: offline, model: m}}\n"
    text += "agents: {a: {role: r, model: m}}\ntasks: [{id: t, agent: a, prompt: p}]\n"
    section = line.split(":")[0]
    text = "\n".join(x for x in text.splitlines() if not x.startswith(section + ":")) + "\n"
    path = tmp_path / "crew.yaml"
    path.write_text(text + line.replace("HUGE", HUGE) + "\n", encoding="utf-8")
    (problem,) = _problems(path)
    assert f"{where}: must be at most " in problem
    assert problem.startswith(f"{path}:")


def test_a_large_whole_number_as_data_still_loads(tmp_path: Path) -> None:
    """An input's default and a scripted answer are data: the bound on fields is not theirs."""
    path = tmp_path / "crew.yaml"
    path.write_text(
        f"name: n\ninputs: {{big: {{default: {HUGE}}}}}\n"
        f"agents: {{a: {{role: r, model: offline, script: [{{data: {HUGE}}}]}}}}\n"
        "tasks: [{id: t, agent: a, prompt: p}]\n",
        encoding="utf-8",
    )
    crew = load_crew(path)
    assert str(crew.spec.inputs["big"].default) == HUGE


def _whole_number_fields() -> list[tuple[str, object]]:
    """(model.field, its FieldInfo) for every int field of every crew-file model."""
    import mas_cli.spec.mcp
    import mas_cli.spec.models
    import mas_cli.spec.script  # noqa: F401 (every Spec subclass defined)
    from mas_cli.spec.base import Spec

    found, todo = [], list(Spec.__subclasses__())
    while todo:
        model = todo.pop()
        todo += model.__subclasses__()
        for name, info in model.model_fields.items():
            if info.annotation in (int, int | None):
                found.append((f"{model.__name__}.{name}", info))
    return found


def test_every_whole_number_field_of_the_crew_file_is_bounded() -> None:
    """MAX_WHOLE is a `le` bound each int field states (pydantic checks it in its core); a new
    field without it would take a 400-digit value past `mas validate` to the budget's floats."""
    from annotated_types import Le

    from mas_cli.spec.base import MAX_WHOLE

    fields = _whole_number_fields()
    assert len(fields) > 25
    unbounded = [
        name
        for name, info in fields
        if not any(
            isinstance(m, Le) and m.le <= MAX_WHOLE
            for m in info.metadata  # type: ignore[attr-defined]
        )
    ]
    assert not unbounded
