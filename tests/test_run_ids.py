"""Every run gets a folder of its own, even when two runs draw the same id: an id is the start
time to the millisecond and 24 random bits, and a batch starts many runs in one millisecond."""

from __future__ import annotations

from pathlib import Path

import pytest
from crewkit import ECHO_CREW, events, run, write_crew

import mas_cli.engine.run as engine_run


def test_a_run_that_draws_the_id_of_another_takes_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder was made with exist_ok: the second run wrote into the first one's log.
    drawn = iter(
        ["20261207T010203004-aaaaaa", "20261207T010203004-aaaaaa", "20261207T010203004-bbbbbb"]
    )
    monkeypatch.setattr(engine_run, "new_run_id", lambda: next(drawn))
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    home = tmp_path / "home"
    first = run(crew, home, inputs={"item": "a"})
    second = run(crew, home, inputs={"item": "b"})
    assert Path(first.run_dir).name == "20261207T010203004-aaaaaa"
    assert Path(second.run_dir).name == "20261207T010203004-bbbbbb"
    for result in (first, second):
        logged = events(result)
        assert [e["type"] for e in logged].count("run_started") == 1
        assert {e["run_id"] for e in logged} == {Path(result.run_dir).name}
