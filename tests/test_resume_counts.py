"""`mas resume`: every count limit is cumulative over the chain of runs, as dollars are.

max_tool_calls, max_llm_calls and max_tokens count what the runs before the resume used; a
tool call made again in a turn answered from the recording is the chain's call, counted once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from resumekit import mas, run_logs, spent

ROOT = Path(__file__).resolve().parent.parent
RUNAWAY = ROOT / "crews" / "runaway-rescoring"


def _crew(tmp_path: Path, limits: str) -> Path:
    """The runaway crew, stopped by `limits` instead of its max_llm_calls."""
    folder = tmp_path / "runaway"
    shutil.copytree(RUNAWAY, folder)
    crew = folder / "crew.yaml"
    text = crew.read_text(encoding="utf-8")
    text = text.replace("max_llm_calls: 12 ", f"max_llm_calls: 100\n  {limits} ")
    crew.write_text(text, encoding="utf-8")
    return crew


def _counted(logs: list[list[dict[str, Any]]]) -> set[tuple[Any, ...]]:
    """The chain's tool calls, each once: the same call logged by two runs is one call."""
    return {
        (e["agent"], e["task"], e["turn"], e["tool_call_id"], e["args_digest"])
        for log in logs
        for e in log
        if e["type"] == "tool_call" and e["status"] != "refused" and not e.get("replayed")
    }


def test_max_tool_calls_counts_the_chain(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crew = _crew(tmp_path, "max_tool_calls: 9")
    code, _, err = mas("run", str(crew), "-q", home=home)
    assert code == 3, err
    (first,) = run_logs(home)
    assert "max_tool_calls 9" in first[-1]["reason"]
    assert first[-1]["tool_calls"] == 9
    # The same limit: the chain has used it all, so the resume makes no new tool call.
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 3, err
    second = run_logs(home)[1]
    assert "max_tool_calls 9" in second[-1]["reason"]
    assert second[-1]["tool_calls"] == 0  # run_finished: the calls this run made itself
    assert len(_counted([first, second])) == 9
    # A raised limit: the chain goes on to it, the calls made again not counted twice.
    code, _, err = mas("resume", "--last", "--limit", "max_tool_calls=15", "-q", home=home)
    assert code == 3, err
    logs = run_logs(home)
    assert "max_tool_calls 15" in logs[2][-1]["reason"]
    assert logs[2][-1]["tool_calls"] == 6
    assert len(_counted(logs)) == 15
    # ... and a resume of that resume still counts the whole chain.
    code, _, err = mas("resume", "--last", "-q", "--limit", "max_tool_calls=15", home=home)
    assert code == 3, err
    assert run_logs(home)[3][-1]["tool_calls"] == 0


def test_max_llm_calls_and_max_tokens_count_the_chain(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crew = _crew(tmp_path, "max_tool_calls: 1000")
    crew.write_text(crew.read_text().replace("max_llm_calls: 100", "max_llm_calls: 10"))
    assert mas("run", str(crew), "-q", home=home)[0] == 3
    code, _, err = mas("resume", "--last", "-q", home=home)
    assert code == 3, err
    first, second = run_logs(home)
    assert spent(first)[0] == 10
    assert spent(second)[0] == 0
    assert "max_llm_calls 10" in second[-1]["reason"]
    tokens = sum(e["input_tokens"] + e["output_tokens"] for e in first if e["type"] == "llm_call")
    budget = f"max_tokens={tokens}"
    code, _, err = mas(
        "resume", "--last", "-q", "--limit", "max_llm_calls=100", "--limit", budget, home=home
    )
    assert code == 3, err
    third = run_logs(home)[2]
    assert "max_tokens" in third[-1]["reason"]
    assert spent(third)[0] == 0  # the chain's tokens fill the budget: no call fits
