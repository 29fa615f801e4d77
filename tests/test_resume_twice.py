"""A run already resumed is not resumed again: its resume's side effects and spend are not in
its chain, so a second resume of it would make them again. The last run of the chain is named."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from resumekit import TASKS, mas, outbox, outbox_crew, run_logs


def test_resuming_a_run_already_resumed_is_refused_naming_the_last(tmp_path: Path) -> None:
    crew = outbox_crew(tmp_path / "crew")
    text = crew.read_text()
    crew.write_text(text.replace("max_llm_calls: 40", "max_llm_calls: 3"))
    home = tmp_path / "home"
    assert mas("run", str(crew), "-q", home=home)[0] == 3  # stopped after intake's send
    first = run_logs(home)[0][0]["run_id"]
    code, _, err = mas("resume", first, "-q", "--limit", "max_llm_calls=5", home=home)
    assert code == 3, err
    second = run_logs(home)[1][0]["run_id"]
    code, _, err = mas("resume", first, "-q", "--limit", "max_llm_calls=40", home=home)
    assert code == 2
    assert f"run {first} was already resumed by run {second}" in err
    assert f"mas resume {second}" in err
    assert len(run_logs(home)) == 2  # nothing ran
    code, _, err = mas("resume", second, "-q", "--limit", "max_llm_calls=40", home=home)
    assert code == 0, err
    code, _, err = mas("resume", first, "-q", home=home)
    assert code == 2
    assert f"mas resume {run_logs(home)[2][0]['run_id']}" in err  # the chain's last run
    sent = outbox(crew)
    assert len(sent) == len(TASKS) == len(set(sent))  # each message once


def test_a_run_being_resumed_is_not_resumed_by_a_second_process(tmp_path: Path) -> None:
    # Two resumes started together both passed the check (no run resumed it yet) and both
    # ran, each making the side effects. The resume in flight is played by holding the lock
    # it holds on the run's folder.
    crew = outbox_crew(tmp_path / "crew")
    crew.write_text(crew.read_text().replace("max_llm_calls: 40", "max_llm_calls: 3"))
    home = tmp_path / "home"
    assert mas("run", str(crew), "-q", home=home)[0] == 3
    first = run_logs(home)[0][0]["run_id"]
    fd = os.open(home / "runs" / first, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, _, err = mas("resume", first, "-q", "--limit", "max_llm_calls=40", home=home)
    finally:
        os.close(fd)
    assert code == 2, err
    assert f"run {first} is being resumed by another mas process" in err
    assert len(run_logs(home)) == 1  # nothing ran
    code, _, err = mas("resume", first, "-q", "--limit", "max_llm_calls=40", home=home)
    assert code == 0, err  # the lock let go, the run resumes


def test_a_run_still_running_is_not_resumed_and_its_process_is_named(tmp_path: Path) -> None:
    # The refusal said only "still running": which process, of the several a user may have
    # started, was left to guess. The run's lock file names it. A replay of it is refused too:
    # its recording stops where the run has got to, and the replay failed at the first call
    # not yet recorded, blaming a changed crew.
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        "name: slow\nmodels: {m: offline}\n"
        "agents:\n  a:\n    role: A\n    model: m\n"
        "    script: [{text: first, delay_s: 60}]\n"
        "tasks:\n  - {id: t, agent: a, prompt: Go.}\n"
    )
    home = tmp_path / "home"
    env = {**os.environ, "MAS_HOME": str(home)}
    argv = [sys.executable, "-m", "mas_cli", "run", str(crew), "-q"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not any(b"task_started" in log.read_bytes() for log in home.glob("runs/*/*.jsonl")):
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.02)
        resumed = mas("resume", "--last", "-q", home=home)
        (live,) = (home / "runs").iterdir()
        replayed = mas("run", str(crew), "--replay", live.name, "-q", home=home)
    finally:
        process.kill()
        process.communicate()
    code, _, err = resumed
    assert code == 2, err
    assert f"is still running (process {process.pid})" in err
    assert f"kill -INT {process.pid}" in err
    code, _, err = replayed
    assert code == 2, err
    assert f"run {live.name} is still running (process {process.pid})" in err
    assert len(run_logs(home)) == 1  # nothing ran
