"""`mas resume`: after a limit, after a failure with the crew file fixed, with a changed prompt,
with a side effect in flight; the idempotency key given to tools; the chain in the reports;
bad arguments."""

from __future__ import annotations

import json
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pytest
from crewkit import write_crew
from resumekit import (
    TASKS,
    events,
    mas,
    outbox,
    outbox_crew,
    ran_tasks,
    replayed,
    run_logs,
    spent,
    start,
)

ROOT = Path(__file__).resolve().parent.parent
RUNAWAY = ROOT / "crews" / "runaway-rescoring"


def _runaway(tmp_path: Path) -> Path:
    shutil.copytree(RUNAWAY, tmp_path / "runaway")
    return tmp_path / "runaway" / "crew.yaml"


def test_a_resume_after_the_breaker_counts_the_origin_calls(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert mas("run", str(_runaway(tmp_path)), "-q", home=home)[0] == 3
    code, _, err = mas("resume", "--last", "-q", home=home)  # the same breaker: nothing left
    assert code == 3, err
    first, second = run_logs(home)
    assert spent(second) == (0, Decimal(0))  # the bill is cumulative: no new call fits
    assert len(replayed(second)) == 12  # the 12 recorded calls, answered again for free
    assert "max_llm_calls 12" in second[-1]["reason"]
    assert second[0]["resumed_from"] == first[0]["run_id"]


def test_a_raised_limit_lets_the_resume_go_on_to_the_new_limit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mas("run", str(_runaway(tmp_path)), "-q", home=home)
    code, _, err = mas("resume", "--last", "--limit", "max_llm_calls=20", "-q", home=home)
    assert code == 3, err
    first, second = run_logs(home)
    assert spent(first)[0] + spent(second)[0] == 20
    assert spent(second)[0] == 8
    assert all(e["cost_usd"] == 0 and e["output_tokens"] == 0 for e in replayed(second))
    assert second[-1]["llm_calls"] == 8  # run_finished: the calls this run made


def test_a_failed_task_runs_again_once_the_crew_is_fixed(tmp_path: Path) -> None:
    crew = outbox_crew(tmp_path / "c")
    text = crew.read_text()
    broken = text.replace(
        '        - {delay_s: 0.03, text: "acct-9 is in good standing."}',
        "        - {error: {status: 400, message: bad request}}",
    )
    assert broken != text
    crew.write_text(broken)
    home = tmp_path / "home"
    code, _, err = mas("run", str(crew), "-q", home=home)
    assert code == 1, err
    crew.write_text(text)  # the fix
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 0, err
    first, second = run_logs(home)
    assert ran_tasks(first) == ["intake"]
    assert ran_tasks(second) == ["check", "approve", "notify"]
    carried = [e for e in second if e["type"] == "task_finished" and e.get("carried_from")]
    assert [(e["task"], e["carried_from"]) for e in carried] == [("intake", first[0]["run_id"])]
    # check's first turn (a tool call) is answered from the recording; its send is not made again
    assert [e["task"] for e in replayed(second)] == ["check"]
    gave_back = [e for e in second if e["type"] == "tool_call" and e.get("replayed")]
    assert [e["task"] for e in gave_back] == ["check"]
    assert len(outbox(crew)) == len(TASKS)
    output = json.loads((Path(sorted((home / "runs").iterdir())[-1]) / "output.json").read_text())
    assert output["tasks"]["intake"]["output"] == "Ticket T-7 logged."
    state = json.loads((Path(sorted((home / "runs").iterdir())[-1]) / "state.json").read_text())
    assert state["decision"]["value"] == "approve"


def test_a_changed_prompt_runs_its_task_again_without_repeating_its_side_effect(
    tmp_path: Path,
) -> None:
    crew = outbox_crew(tmp_path / "c")
    text = crew.read_text()
    failing = '        - {error: {status: 400, message: "no"}}'
    crew.write_text(text.replace('        - {delay_s: 0.03, text: "Customer told."}', failing))
    home = tmp_path / "home"
    assert mas("run", str(crew), "-q", home=home)[0] == 1
    crew.write_text(text.replace("Check the account of", "Check, carefully, the account of"))
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 0, err
    first, second = run_logs(home)
    assert ran_tasks(first) == ["intake", "check", "approve"]
    assert ran_tasks(second) == ["check", "notify"]  # approve's prompt did not change: carried
    check_calls = [e for e in second if e["type"] == "llm_call" and e["task"] == "check"]
    assert [e.get("replayed", False) for e in check_calls] == [False, False]  # diverged at turn 1
    assert len(outbox(crew)) == len(TASKS)  # check's send had completed: given back, not resent


def _kill_in_send(tmp_path: Path, crew: Path) -> Path:
    """Run the crew and kill it while its first send is in flight; the home."""
    (crew.parent / "outbox.py").write_text(
        (crew.parent / "outbox.py").read_text().replace("SLOW_S = 0.05", "SLOW_S = 30")
    )
    home = tmp_path / "home"
    process = start(crew, home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        logs = list((home / "runs").glob("*/events.jsonl")) if (home / "runs").is_dir() else []
        sent = (crew.parent / "outbox.jsonl").exists()
        if logs and sent and '"tool_started"' in logs[0].read_text():
            break
        time.sleep(0.01)
    process.kill()
    process.communicate(timeout=60)
    return home


def test_a_side_effect_in_flight_stops_the_resume_unless_the_tool_honours_its_key(
    tmp_path: Path,
) -> None:
    crew = outbox_crew(tmp_path / "c")
    crew.write_text(crew.read_text().replace("    idempotent: true\n", ""))
    home = _kill_in_send(tmp_path, crew)
    (first,) = run_logs(home)
    (started,) = [e for e in first if e["type"] == "tool_started"]
    code, out, err = mas("resume", "--last", home=home)
    assert code == 1
    assert "task intake, tool send" in err
    assert started["idempotency_key"] in err
    assert "idempotent: true" in err
    assert out == ""
    assert len(list((home / "runs").iterdir())) == 1  # nothing ran
    crew.write_text(
        crew.read_text().replace("kind: side_effect", "kind: side_effect\n    idempotent: true")
    )
    (crew.parent / "outbox.py").write_text(
        (crew.parent / "outbox.py").read_text().replace("SLOW_S = 30", "SLOW_S = 0")
    )
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 0, err
    assert [to for to, _ in outbox(crew)] == ["customer", "risk", "ledger", "customer"]
    again = [e for e in run_logs(home)[1] if e["type"] == "tool_started" and e["task"] == "intake"]
    assert again[0]["idempotency_key"] == started["idempotency_key"]  # the same key, again


def test_repeat_in_flight_makes_the_unknown_call_again(tmp_path: Path) -> None:
    crew = outbox_crew(tmp_path / "c")
    crew.write_text(crew.read_text().replace("    idempotent: true\n", ""))
    home = _kill_in_send(tmp_path, crew)
    (crew.parent / "outbox.py").write_text(
        (crew.parent / "outbox.py").read_text().replace("SLOW_S = 30", "SLOW_S = 0")
    )
    code, _, err = mas("resume", "--last", "--repeat-in-flight", "-q", home=home)
    assert code == 0, err
    assert len(outbox(crew)) == len(TASKS)  # the tool deduplicated by the key it was given


KEYED = """
name: keyed
models: {m: {provider: offline, model: gpt-4o-mini}}
tools:
  post: {command: [python, show_key.py], kind: side_effect}
  peek: {command: [python, show_key.py], kind: live}
agents: {a: {role: A, model: m, tools: [post, peek]}}
tasks: [{id: t, agent: a, prompt: Go.}]
"""
SHOW_KEY = "import os\nprint(os.environ.get('MAS_IDEMPOTENCY_KEY', 'no key'))\n"


def test_a_command_tool_gets_its_key_in_the_environment_only_for_a_side_effect(
    tmp_path: Path,
) -> None:
    crew = write_crew(tmp_path / "k", KEYED, show_key__py=SHOW_KEY)
    home = tmp_path / "home"
    assert mas("run", str(crew), "-q", home=home)[0] == 0
    (log,) = run_logs(home)
    calls = {e["tool"]: e for e in log if e["type"] == "tool_call"}
    assert calls["post"]["result"].strip() == calls["post"]["idempotency_key"]
    assert calls["post"]["idempotency_key"].startswith("mas-")
    assert "idempotency_key" not in calls["peek"]
    assert "result" not in calls["peek"]


def test_a_function_tool_gets_the_key_of_its_event(tmp_path: Path) -> None:
    crew = outbox_crew(tmp_path / "c")
    home = tmp_path / "home"
    assert mas("run", str(crew), "-q", home=home)[0] == 0
    (log,) = run_logs(home)
    keys = [e["idempotency_key"] for e in log if e["type"] == "tool_call"]
    box = [
        json.loads(line)["key"] for line in (crew.parent / "outbox.jsonl").read_text().splitlines()
    ]
    assert keys == box
    assert len(set(keys)) == len(TASKS)
    (folder,) = (home / "runs").iterdir()
    first = json.loads((folder / "llm.jsonl").read_text().splitlines()[0])
    (tool,) = first["request"]["tools"]
    assert set(tool["parameters"]["properties"]) == {"to", "body"}  # the key: never the model's
    code, _, err = mas("resume", "--last", home=home)
    assert code == 0
    assert "ended ok: nothing to resume" in err
    assert len(list((home / "runs").iterdir())) == 1


def test_runs_show_and_cost_report_show_the_chain_and_no_replayed_spend(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mas("run", str(_runaway(tmp_path)), "-q", home=home)
    mas("resume", "--last", "--limit", "max_llm_calls=20", "-q", home=home)
    first, second = run_logs(home)
    code, out, _ = mas("runs", "--json", home=home)
    rows = {r["run_id"]: r for r in json.loads(out)}
    resumed = rows[second[0]["run_id"]]
    assert resumed["resumed_from"] == first[0]["run_id"]
    assert (resumed["llm_calls"], resumed["replayed_calls"]) == (8, 12)
    code, out, _ = mas("show", second[0]["run_id"], home=home)
    assert code == 0
    assert "replayed from the recording, no spend" in out
    assert f"resumes run {first[0]['run_id']}" in " ".join(out.split())  # however it wraps
    code, out, _ = mas("cost-report", second[0]["run_id"], "--json", home=home)
    report = json.loads(out)
    (run,) = report["runs"]
    assert run["resumed_from"] == first[0]["run_id"]
    assert run["self_check"] == "ok"
    assert report["total"]["llm_calls"] == 8
    assert Decimal(str(report["total"]["cost_usd"])) == spent(second)[1]
    code, out, _ = mas("runs", home=home)
    assert "resumes" in out.splitlines()[0]


def test_resume_refuses_bad_arguments_before_anything_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crew = _runaway(tmp_path)
    mas("run", str(crew), "-q", home=home)
    code, _, err = mas("resume", home=home)
    assert code == 2
    assert "mas resume --last" in err
    code, _, err = mas("resume", "--last", "--limit", "max_llm_cals=20", home=home)
    assert code == 2
    assert "did you mean 'max_llm_calls'" in err
    code, _, err = mas("resume", "--last", "--limit", "max_llm_calls=lots", home=home)
    assert code == 2
    assert "max_llm_calls" in err
    code, _, err = mas("resume", "--last", "--limit", "max_llm_calls", home=home)
    assert code == 2
    assert "NAME=VALUE" in err
    code, _, err = mas("resume", "nosuchrun", home=home)
    assert code == 2
    assert "no run matching 'nosuchrun'" in err
    crew.rename(crew.with_name("moved.yaml"))
    code, _, err = mas("resume", "--last", home=home)
    assert code == 2
    assert "--crew" in err
    code, _, err = mas(
        "resume", "--last", "--crew", str(crew.with_name("moved.yaml")), "-q", home=home
    )
    assert code == 3, err
    assert len(list((home / "runs").iterdir())) == 2
    assert "Traceback" not in err


def test_a_crew_file_whose_inputs_changed_says_how_to_resume(tmp_path: Path) -> None:
    # Was `missing required input: extra (give --input extra=...)`: mas resume has no --input.
    home = tmp_path / "home"
    crew = write_crew(
        tmp_path / "c",
        """
        name: inputs
        inputs:
          topic: {description: t}
        limits: {max_llm_calls: 1}
        agents:
          a: {role: A, model: offline}
        tasks:
          - {id: one, agent: a, prompt: "About {topic}."}
          - {id: two, agent: a, prompt: "More on {topic}."}
        """,
    )
    assert mas("run", str(crew), "--offline", "--input", "topic=x", "-q", home=home)[0] == 3
    text = crew.read_text()
    crew.write_text(text.replace("topic: {description: t}", "topic: {}\n  extra: {}"))
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 2, err
    assert "needs input extra, which run" in err
    assert "--input extra" not in err
    assert "a default:" in err
    crew.write_text(
        text.replace("{topic}", "it").replace("inputs:\n  topic: {description: t}\n", "")
    )
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 2, err
    assert "no longer takes input topic" in err
    assert len(list((home / "runs").iterdir())) == 1  # nothing ran


def test_a_run_killed_mid_line_resumes_past_the_cut(tmp_path: Path) -> None:
    crew = outbox_crew(tmp_path / "c")
    home = tmp_path / "home"
    assert mas("run", str(crew), "-q", home=home)[0] == 0
    (folder,) = (home / "runs").iterdir()
    lines = (folder / "events.jsonl").read_text().splitlines(keepends=True)
    # as if killed inside notify: its task_finished cut in half, the run never finished
    cut = next(i for i, line in enumerate(lines) if '"task_finished"' in line and "notify" in line)
    (folder / "events.jsonl").write_text("".join(lines[:cut]) + lines[cut][:40])
    (folder / "output.json").unlink()
    llm = (folder / "llm.jsonl").read_text().splitlines(keepends=True)
    (folder / "llm.jsonl").write_text("".join(llm[:-1]) + llm[-1][:50])
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 0, err
    second = run_logs(home)[1]
    assert ran_tasks(second) == ["notify"]
    carried = [e["task"] for e in second if e.get("carried_from")]
    assert carried == ["intake", "check", "approve"]  # outputs rebuilt from llm.jsonl
    final = events(sorted((home / "runs").iterdir())[-1])
    assert final[-1]["status"] == "ok"
    assert len(outbox(crew)) == len(TASKS)


def test_the_readme_story_breaker_fix_resume(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crew = _runaway(tmp_path)
    assert mas("run", str(crew), "-q", home=home)[0] == 3
    fixed = crew.with_name("fixed.yaml")
    assert mas("validate", str(fixed))[0] == 0
    code, out, err = mas("resume", "--last", "--crew", str(fixed), "-q", home=home)
    assert code == 0, err
    _, second = run_logs(home)
    assert len(replayed(second)) == 12  # all the stopped run's calls, answered for free
    assert spent(second)[0] == 3  # one final answer per reviewer
    assert ran_tasks(second) == ["score", "critique", "judge"]
    assert "refer the claim to investigation" in out


def test_tampered_logs_are_usage_errors_or_read_past_never_a_hang(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crew = _runaway(tmp_path)
    mas("run", str(crew), "-q", home=home)
    mas("resume", "--last", "--limit", "max_llm_calls=14", "-q", home=home)
    first, second = sorted((home / "runs").iterdir())
    # a chain that loops back on itself (A resumes B, B resumes A) is read once round
    log = (first / "events.jsonl").read_text().splitlines(keepends=True)
    started = json.loads(log[0])
    started["resumed_from"] = second.name
    (first / "events.jsonl").write_text(json.dumps(started) + "\n" + "".join(log[1:]))
    code, _, err = mas("resume", second.name, "--limit", "max_llm_calls=16", "-q", home=home)
    assert code == 3, err
    third = run_logs(home)[2]
    assert spent(third)[0] == 2  # 12 + 2 + 2: each run of the loop counted once
    # a log that is not ours is named, with what to do
    (second / "events.jsonl").write_bytes(b"\x00\xffnot json\n{]\n")
    code, _, err = mas("resume", second.name, home=home)
    assert code == 2
    assert "no run_started event" in err
    assert "Traceback" not in err


def test_the_origin_spend_counts_against_max_cost_usd(tmp_path: Path) -> None:
    crew = _runaway(tmp_path)
    # Input free and a 1,000-token output cap: a call's worst case is exactly $0.0006.
    crew.write_text(
        crew.read_text().replace(
            "fast: {provider: offline, model: gpt-4o-mini}",
            "fast: {provider: offline, model: gpt-4o-mini, max_tokens: 1000}",
        )
        + "prices:\n  gpt-4o-mini: {input: 0, output: 0.6}\n"
    )
    home = tmp_path / "home"
    assert mas("run", str(crew), "-q", home=home)[0] == 3
    (first,) = run_logs(home)
    before = spent(first)[1]
    assert before > 0
    # One call's worst case fits this budget alone, not on top of the first run's spend.
    budget = Decimal("0.0006") + before / 2
    code, _, err = mas(
        "resume", "--last", "--limit", "max_llm_calls=60", "--limit", f"max_cost_usd={budget}",
        "-q", home=home,
    )  # fmt: skip
    assert code == 3, err
    second = run_logs(home)[1]
    assert "max_cost_usd" in second[-1]["reason"]
    assert spent(second) == (0, Decimal(0))
    assert len(replayed(second)) == 12


def test_a_run_started_with_a_relative_path_resumes_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crew file is recorded where it is, not as typed: `mas resume` from another folder
    finds it (before, `crews/x/crew.yaml` was looked for from the folder of the resume)."""
    home = tmp_path / "home"
    crew = _runaway(tmp_path)
    monkeypatch.chdir(crew.parent.parent)
    assert mas("run", "runaway/crew.yaml", "-q", home=home)[0] == 3
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = mas("resume", "--last", "--limit", "max_llm_calls=14", "-q", home=home)
    assert code == 3, err  # the raised breaker again: it ran
    first, second = run_logs(home)
    assert first[0]["crew_path"] == str(crew)
    assert second[0]["resumed_from"] == first[0]["run_id"]
    assert spent(second)[0] == 2
