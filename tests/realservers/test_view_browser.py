"""`mas view` pages opened in a real browser: Debian's chromium, headless, driven by Playwright.

Each example crew's page opens with no console error, shows its timeline bars, charts,
findings and state, answers a click on a call with its details, and fits a 390 px phone
without the page scrolling sideways (the timeline scrolls in its own box). A hostile run's
markup stays text. Screenshots at 1280 and 390 px go to bench/.artifacts/view/ (or
$MAS_VIEW_ARTIFACTS), printed at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import ensure
from typer.testing import CliRunner
from viewkit import CREWS, PAYLOAD, ROOT, example_runs, hostile_run, write_batch

from mas_cli.cli import app

runner = CliRunner()
WIDTHS = (1280, 390)


@pytest.fixture(scope="session")
def artifacts(request: pytest.FixtureRequest) -> Iterator[Path]:
    folder = Path(os.environ.get("MAS_VIEW_ARTIFACTS") or ROOT / "bench" / ".artifacts" / "view")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown in the session's output, not captured
        print(f"\nmas view screenshots: {folder}")


@pytest.fixture(scope="module")  # its event loop runs until closed: never past this module
def browser() -> Iterator[Any]:
    binary = ensure("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(binary), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def crews(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    home = tmp_path_factory.mktemp("home")
    runs = example_runs(home)
    for run in runs.values():
        assert runner.invoke(app, ["view", str(run), "--no-open"]).exit_code == 0
    return home, runs


class Page:
    """A page opened at one width, with every console message and page error it raised."""

    def __init__(self, browser: Any, path: Path, width: int) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda err: self.problems.append(f"pageerror: {err}"))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"{message.type}: {message.text}")

    def count(self, selector: str) -> int:
        return int(self.page.locator(selector).count())

    def visible(self, selector: str) -> int:
        return int(self.page.evaluate(VISIBLE, selector))

    def close(self) -> None:
        self.page.close()


VISIBLE = """(sel) => [...document.querySelectorAll(sel)].filter(e => {
  const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0;
}).length"""


@pytest.mark.parametrize("crew", CREWS)
def test_each_example_crew_opens_clean_and_shows_what_it_should(
    browser: Any, crews: tuple[Path, dict[str, Path]], artifacts: Path, crew: str
) -> None:
    import json

    run = crews[1][crew]
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    calls = sum(e["type"] in ("llm_call", "tool_call") for e in events)
    tasks = sum(e["type"] == "task_started" for e in events)
    writes = sum(e["type"] == "state_write" for e in events)
    for width in WIDTHS:
        page = Page(browser, run / "view.html", width)
        assert page.problems == []
        assert page.visible(".taskbar .task") == tasks
        assert page.visible(".call .bar") == calls
        assert page.visible("svg.chart .bar rect, svg.chart polyline") >= 4
        rows = "#state table tr.ok, #state table tr.refused, #state table tr.unwritten"
        assert page.visible(rows) == writes
        wide = page.page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"the page scrolls sideways at {width} px"
        page.page.screenshot(path=str(artifacts / f"{crew}-{width}.png"), full_page=True)
        page.close()


def test_a_click_shows_a_calls_details_and_a_finding_its_stretch(
    browser: Any, crews: tuple[Path, dict[str, Path]]
) -> None:
    page = Page(browser, crews[1]["runaway-rescoring"] / "view.html", 1280)
    assert page.count("#details[hidden]") == 1
    page.page.locator(".call.tool").first.click()
    details = page.page.locator("#details")
    assert details.is_visible()
    assert "request_rescore" in details.inner_text()
    assert page.visible("#findings tr[id^=finding-]") == 2
    page.page.locator("[data-finding-link='1']").click()
    assert page.count("#band-1.hl") == 1
    assert page.count("#finding-1.hl") == 1
    assert page.visible(".mark.limit .flag") == 1
    assert page.problems == []
    page.close()


def test_a_hostile_run_stays_text_in_the_browser(
    browser: Any, tmp_path: Path, clean_env: Path
) -> None:
    run = hostile_run(tmp_path / "crew", clean_env)
    assert runner.invoke(app, ["view", "--last", "--include-content", "--no-open"]).exit_code == 0
    page = Page(browser, run / "view.html", 1280)
    page.page.locator(".call.tool").first.click()
    shown = page.page.locator("#details").inner_text()
    assert PAYLOAD in shown
    assert page.page.evaluate("window.__pwned") is None
    assert page.page.evaluate("document.images.length") == 0
    assert PAYLOAD in page.page.locator("#state").inner_text()
    assert page.problems == []
    page.close()


def test_a_batch_page_opens_each_run(browser: Any, crews: tuple[Path, dict[str, Path]]) -> None:
    home, runs = crews
    folder = write_batch(home, runs, "b-browser")
    assert (
        runner.invoke(app, ["view", "b-browser", "--home", str(home), "--no-open"]).exit_code == 0
    )
    page = Page(browser, folder / "view.html", 390)
    assert page.visible("table.items tr") == len(runs) + 2  # the head, each run, the dead item
    page.page.locator("table.items a").first.click()
    page.page.wait_for_load_state("load")
    assert page.visible(".taskbar .task") >= 1
    assert page.problems == []
    page.close()


def test_a_chromium_that_cannot_be_installed_fails_saying_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import install

    monkeypatch.setenv("MAS_CI_CACHE", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # no chromium, and no apt-get
    with pytest.raises(install.InstallError) as failed:
        install.install_chromium()
    assert "chromium is missing and there is no apt-get: install Chromium" in str(failed.value)
    with pytest.raises(pytest.fail.Exception) as reported:
        ensure("chromium")
    assert "real-server tier: chromium is missing" in str(reported.value)
