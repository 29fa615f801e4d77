"""The crew-file loader: every class of error, located exactly, with a message that says the fix."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mas_cli.errors import SpecError, UsageError
from mas_cli.spec.findings import dotted
from mas_cli.spec.loader import load_crew

SPEC = Path(__file__).parent / "fixtures" / "spec"

# One fixture file per class of problem; each line is exactly what `mas validate` prints.
EXPECTED: dict[str, list[str]] = {
    "cycle": [
        "cycle.yaml:6:58: tasks[one].depends_on: depends_on forms a cycle: one -> three -> two -> one (remove one of these dependencies)",
        "cycle.yaml:9:52: tasks[four].depends_on[0]: a task cannot depend on itself (remove it from depends_on)",
    ],
    # Wrong values are left out for the cross-checks, which then find the wrong names too.
    "values_and_references": [
        "values_and_references.yaml:5:46: agents.a.max_turns: must be greater than 0, got -1",
        "values_and_references.yaml:7:20: tasks[t].agent: agent 'b' is not defined (expected one of: a)",
        "values_and_references.yaml:7:48: tasks[t].depends_on[0]: task 'zz' is not defined (expected one of: t)",
        "values_and_references.yaml:8:10: tasks[t].id: task id 't' is used twice (give each task its own id)",
        "values_and_references.yaml:8:35: tasks[t].tools: unknown key 'tools' (expected one of: agent, depends_on, expected_output, id, max_retries, output_schema, prompt, writes)",
    ],
    # ...but not an entry others name: agent a would be told model m is not defined.
    "entry_wrong": [
        "entry_wrong.yaml:3:13: models.m: expected a mapping (key: value), got 5",
    ],
    "duplicate_key": [
        "duplicate_key.yaml:4:3: agents.writer: duplicate key (first given at line 3)",
    ],
    "missing_field": [
        "missing_field.yaml:3:3: agents.writer.role: 'role' is required (add role: ...)",
        "missing_field.yaml:7:5: tasks[t].prompt: 'prompt' is required (add prompt: ...)",
    ],
    "not_mapping": [
        "not_mapping.yaml:1:1: the crew file is a list, not a mapping (a crew file starts with name:, agents: and tasks:)",
    ],
    "placeholders": [
        "placeholders.yaml:12:13: tasks[research].prompt: {toppic} is not an input, an upstream task or a state key (did you mean 'topic'?)",
        "placeholders.yaml:15:13: tasks[summary].prompt: {report} names task 'report', which does not finish before 'summary' (add 'report' to depends_on)",
        "placeholders.yaml:15:13: tasks[summary].prompt: {research} names task 'research', which does not finish before 'summary' (add 'research' to depends_on)",
        "placeholders.yaml:19:13: tasks[report].prompt: bad placeholder: Single '{' encountered in format string (write {{ and }} for literal braces)",
    ],
    "process": [
        "process.yaml:2:1: process: a hierarchical crew needs a manager (add manager: <agent name>)",
        "process.yaml:6:43: tasks[first].depends_on[0]: 'second' comes later in the file, but a hierarchical crew runs tasks in file order (move it above this task, or use process: parallel)",
    ],
    "references": [
        "references.yaml:11:12: agents.writer.model: 'fastt' is not defined under models (did you mean 'fast'?)",
        "references.yaml:12:13: agents.writer.tools[0]: tool 'serch' is not defined (did you mean 'search'?)",
        "references.yaml:15:12: agents.reviewer.model: 'anthropc:claude' names an unknown provider 'anthropc' (did you mean 'anthropic'?)",
        "references.yaml:17:3: rate_limits.opnai: 'opnai' is neither a provider nor a model of this crew (did you mean 'openai'?)",
        "references.yaml:20:12: tasks[draft].agent: agent 'writr' is not defined (did you mean 'writer'?)",
        "references.yaml:22:9: tasks[draft].id: task id 'draft' is used twice (give each task its own id)",
        "references.yaml:25:18: tasks[draft].depends_on[0]: task 'drafts' is not defined (did you mean 'draft'?)",
        "references.yaml:25:26: tasks[draft].depends_on[1]: 'review' comes later in the file, but a sequential crew runs tasks in file order (move it above this task, or use process: parallel)",
        "references.yaml:26:5: tasks[review]: 'agent' is required (name the agent that does this task)",
    ],
    "schemas": [
        "schemas.yaml:3:17: state.score.type: 'numbr' is not a JSON Schema type (did you mean 'number'?)",
        "schemas.yaml:4:41: state.tags.items.minItems: not valid JSON Schema: -1 is less than the minimum of 0 (see https://json-schema.org/understanding-json-schema)",
        "schemas.yaml:9:21: tools.search.parameters.query.type: 'strin' is not a JSON Schema type (did you mean 'string'?)",
        "schemas.yaml:16:45: tasks[t].output_schema.required: not valid JSON Schema: 'decision' is not of type 'array' (see https://json-schema.org/understanding-json-schema)",
    ],
    "sequential_order": [
        "sequential_order.yaml:2:1: manager: manager is only used with process: hierarchical (remove it, or set process: hierarchical)",
        "sequential_order.yaml:6:53: tasks[first].depends_on[0]: 'second' comes later in the file, but a sequential crew runs tasks in file order (move it above this task, or use process: parallel)",
        "sequential_order.yaml:7:5: tasks[second]: 'agent' is required (name the agent that does this task)",
    ],
    "syntax": [
        "syntax.yaml:4:6: not valid YAML: expected ',' or '}', but got ':' (check indentation and quoting)",
    ],
    "tool_shape": [
        "tool_shape.yaml:4:5: tools.both: give exactly one of `function:`, `command:` or `mcp:`",
        "tool_shape.yaml:7:5: tools.neither: give exactly one of `function:`, `command:` or `mcp:`",
        "tool_shape.yaml:9:5: tools.twice: give `kind:` or `deterministic:`, not both",
    ],
    "tools_resolve": [
        "tools_resolve.yaml:4:15: tools.missing_file.function: nowhere.py not found (looked for {SPEC}/nowhere.py) (paths are relative to the crew file)",
        "tools_resolve.yaml:6:15: tools.missing_func.function: helpers.py has no function 'lookup_acount' (did you mean 'lookup_account'?)",
        "tools_resolve.yaml:8:15: tools.bad_ref.function: 'helpers.py' is not of the form file.py:function or package.module:function",
        "tools_resolve.yaml:10:15: tools.no_module.function: module 'no_such_package_xyz.mod' cannot be found (install it, or use a file path: tools.py:func)",
        "tools_resolve.yaml:12:15: tools.no_exe.command[0]: 'no-such-program-xyz' is not on PATH and not a file next to the crew (install it, or give its path)",
        "tools_resolve.yaml:14:34: tools.bad_param.command[2]: {limit} is not a declared parameter (expected one of: query)",
    ],
    # A delegated task's answer is never written: only the manager's answer carries writes.
    "hierarchical_writes": [
        "hierarchical_writes.yaml:13:5: tasks[build].writes: a hierarchical crew writes state only from the manager's final answer, with the last task's writes; 'build' never writes (move writes to the last task, or use process: parallel)",
    ],
    "unknown_key": [
        "unknown_key.yaml:6:5: agents.writer.tols: unknown key 'tols' (did you mean 'tools'?)",
        "unknown_key.yaml:8:3: limits.max_turn: unknown key 'max_turn' (did you mean 'max_turns'?)",
        "unknown_key.yaml:10:5: tasks[t].prompt: 'prompt' is required (add prompt: ...)",
        "unknown_key.yaml:12:5: tasks[t].promt: unknown key 'promt' (did you mean 'prompt'?)",
    ],
    "writes": [
        "writes.yaml:10:5: tasks[plain].writes: writes needs an output_schema, so the output has fields (add output_schema: {type: object, ...})",
        "writes.yaml:18:14: tasks[typed].writes.decison: output field 'decison' is not in output_schema.properties (did you mean 'decision'?)",
        "writes.yaml:18:43: tasks[typed].writes.decision: state key 'verdict' is not declared under state (expected one of: decision)",
    ],
    "wrong_type": [
        "wrong_type.yaml:2:10: process: 'paralel' is not allowed (did you mean 'parallel'?)",
        "wrong_type.yaml:4:14: limits.max_turns: expected a whole number, got 'lots'",
        "wrong_type.yaml:5:17: limits.max_cost_usd: must be greater than 0, got -1",
        "wrong_type.yaml:7:49: agents.writer.tools: expected a list, got 'search'",
        "wrong_type.yaml:9:57: tasks[t].max_retries: expected a whole number, got 1.5",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_error_class_is_located_and_explained(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(SPEC)
    with pytest.raises(SpecError) as caught:
        load_crew(f"{name}.yaml")
    expected = [line.replace("{SPEC}", str(SPEC)) for line in EXPECTED[name]]
    assert [str(p) for p in caught.value.problems] == expected


def test_every_fixture_is_covered() -> None:
    fixtures = {p.stem for p in SPEC.glob("*.yaml")}
    assert fixtures == {*EXPECTED, "warnings"}


def test_warnings_do_not_stop_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPEC)
    crew = load_crew("warnings.yaml")
    assert [str(w) for w in crew.warnings] == [
        "warnings.yaml:1:1: limits left at their defaults: max_llm_calls=100, max_tokens=1,000,000, "
        "max_cost_usd=5, run_timeout_s=1,800 (set them under limits: to match what this crew should spend)",
        "warnings.yaml:11:42: agents.greedy.tools: agent 'greedy' holds all 4 tools of the crew "
        "(give each agent only the tools its tasks need; fewer tools, fewer wrong calls)",
        "warnings.yaml:23:5: tasks[right].writes: tasks 'left' and 'right' can run at the same time "
        "and both write state key 'decision' (lost-update risk: the later write is rejected as a "
        "conflict) (make 'right' depend on 'left', or give each its own key)",
    ]


def test_no_lost_update_warning_when_writers_are_ordered(tmp_path: Path) -> None:
    text = (
        (SPEC / "warnings.yaml")
        .read_text()
        .replace("    agent: greedy\n", "    agent: greedy\n    depends_on: [left]\n")
    )
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(text)
    messages = [w.message for w in load_crew(crew_file).warnings]
    assert not any("lost-update" in m for m in messages)
    assert any("holds all 4 tools" in m for m in messages)


def test_set_limits_silence_the_defaults_warning(tmp_path: Path) -> None:
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(
        "name: quiet\n"
        "limits: {max_llm_calls: 5, max_tokens: 1000, max_cost_usd: 0.1, run_timeout_s: 60}\n"
        "agents: {a: {role: A, model: offline}}\n"
        "tasks: [{id: t, agent: a, prompt: Go.}]\n"
    )
    assert load_crew(crew_file).warnings == []


def test_a_missing_file_is_a_usage_error_listing_nearby_crews(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crews" / "demo").mkdir(parents=True)
    (tmp_path / "crews" / "demo" / "crew.yaml").write_text("name: demo\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        load_crew("crew.yml")
    assert str(caught.value) == "crew.yml: no such file (crew files here: crews/demo/crew.yaml)"


def test_shorthands_expand(tmp_path: Path) -> None:
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(
        "name: short\n"
        "inputs: {topic: loops, other: null}\n"
        "models: {fast: 'openai:gpt-4o-mini'}\n"
        "tools: {t: {command: [echo, hi], deterministic: true}}\n"
        "agents:\n"
        "  a: {role: A, model: fast, tools: [t]}\n"
        "  b: {role: B, model: 'anthropic:claude-haiku-4-5'}\n"
        "state: {k: {type: string}}\n"
        "tasks:\n"
        "  - {id: t1, agent: a, prompt: 'On {topic}', output_schema: {type: object}, writes: [k]}\n"
        "  - {id: t2, agent: b, prompt: '{t1}'}\n"
    )
    spec = load_crew(crew_file).spec
    assert spec.inputs["topic"].default == "loops"
    assert spec.inputs["other"].default is None
    assert (spec.models["fast"].provider, spec.models["fast"].model) == ("openai", "gpt-4o-mini")
    claude = spec.model_for("anthropic:claude-haiku-4-5")
    assert claude is not None
    assert (claude.provider, claude.model) == ("anthropic", "claude-haiku-4-5")
    assert spec.tools["t"].effective_kind == "deterministic"
    assert spec.tasks[0].writes == {"k": "k"}


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(
        "name: anchors\n"
        "x-base: &base {model: offline, max_turns: 2}\n"
        "agents:\n"
        "  a: {<<: *base, role: A}\n"
        "  b: {<<: *base, role: B, max_turns: 4}\n"
        "tasks: [{id: t, agent: a, prompt: Go.}]\n"
    )
    with pytest.raises(SpecError) as caught:
        load_crew(crew_file)
    # an anchor needs a home; an unknown top-level key is refused at its own line
    assert [str(p) for p in caught.value.problems] == [
        f"{crew_file}:2:1: x-base: unknown key 'x-base' (expected one of: agents, description, "
        "inputs, limits, manager, models, name, prices, ...)"
    ]


def test_merge_keys_apply_and_explicit_keys_win(tmp_path: Path) -> None:
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(
        "name: anchors\n"
        "agents:\n"
        "  a: &base {model: offline, max_turns: 2, role: A}\n"
        "  b: {<<: *base, role: B, max_turns: 4}\n"
        "tasks: [{id: t, agent: a, prompt: Go.}]\n"
    )
    agents = load_crew(crew_file).spec.agents
    assert (agents["b"].role, agents["b"].max_turns, agents["b"].model) == ("B", 4, "offline")


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))]
    return [path]


EXAMPLES = sorted((Path(__file__).parent.parent / "crews").glob("*/crew.yaml"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_wrong_value_is_reported_where_it_is_and_nowhere_else(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Attack on reporting every problem in one pass: one value of an example crew made wrong
    (a mapping where the crew has a scalar). Whatever is reported is about that place: the
    wrong values left out for the cross-checks never make them report another."""
    source = data.draw(st.sampled_from(EXAMPLES))
    crew = yaml.safe_load(source.read_text())
    path = data.draw(st.sampled_from(_leaves(crew)))
    parent = crew
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = {"wrong": [1]}
    folder = tmp_path_factory.mktemp("crew")
    shutil.copytree(source.parent, folder, dirs_exist_ok=True)
    (folder / "crew.yaml").write_text(yaml.safe_dump(crew, sort_keys=False))
    try:
        load_crew(folder / "crew.yaml")
    except SpecError as caught:
        where = dotted(path, crew)
        for problem in caught.problems:
            at = problem.path
            related = (
                at == where
                or where.startswith((at + ".", at + "["))
                or at.startswith((where + ".", where + "["))
            )
            assert related, (str(source), where, str(problem))


def test_a_dotted_state_key_in_a_prompt_is_explained_not_suggested(tmp_path: Path) -> None:
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(
        "name: d\nstate: {risk.level: {type: string}}\n"
        "agents: {a: {role: A, model: offline}}\n"
        "tasks:\n  - {id: t, agent: a, prompt: 'Level {risk.level}.'}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_crew(crew_file)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.endswith(
        "tasks[t].prompt: 'risk.level' cannot be named in a prompt, which reads a '.' as a "
        "field (rename it risk_level, without the '.')"
    )


@pytest.mark.parametrize(
    ("key", "what", "col"),
    [
        ("~", "null (~)", 3),
        ("null", "null (null)", 3),
        ("yes", "a boolean (yes)", 3),
        ("? [a, b]\n  ", "a list or mapping", 5),
        ("? {a: 1}\n  ", "a list or mapping", 5),
    ],
)
def test_a_key_that_is_no_name_is_an_error_at_its_line(
    tmp_path: Path, key: str, what: str, col: int
) -> None:
    # str() made these the input names 'None', 'True' and "['a', 'b']", which nobody wrote.
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(
        "name: k\ninputs:\n  topic: {description: t}\n"
        f"  {key}: {{description: x}}\n"
        "agents: {a: {role: A, model: offline}}\ntasks:\n  - {id: t, agent: a, prompt: Go.}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_crew(crew_file)
    [problem] = caught.value.problems
    assert (problem.line, problem.col, problem.path) == (4, col, "inputs")
    assert problem.message == f"a key here is {what}, not a name"
    assert "quote it" in (problem.hint or "")


def test_keys_written_as_numbers_floats_and_quoted_words_still_load(tmp_path: Path) -> None:
    crew_file = tmp_path / "crew.yaml"
    crew_file.write_text(
        "name: k\ninputs:\n  'null': {default: a}\n  'yes': {default: b}\n  1.5: {default: c}\n"
        "agents: {a: {role: A, model: offline}}\ntasks:\n  - {id: t, agent: a, prompt: Go.}\n"
    )
    assert list(load_crew(crew_file).spec.inputs) == ["null", "yes", "1.5"]
