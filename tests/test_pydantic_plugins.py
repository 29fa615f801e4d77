"""`mas` does not make pydantic search every installed package for plugins (30-50 ms of
`validate` and `run`), unless the user asks for plugins by setting PYDANTIC_DISABLE_PLUGINS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CREW = ROOT / "crews" / "fraud-review" / "crew.yaml"
PLUGIN = """\
import os, pathlib
pathlib.Path(os.environ["PLUGIN_MARK"]).write_text("loaded")

class Plugin:
    def new_schema_validator(self, *args, **kwargs):
        pathlib.Path(os.environ["PLUGIN_MARK"]).write_text("used")
        return None, None, None

plugin = Plugin()
"""


def _installed_plugin(site: Path) -> None:
    """A distribution with a pydantic plugin, as `pip install` leaves one (entry point group
    `pydantic`), whose import leaves a mark."""
    info = site / "markplug-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: markplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nmarkplug = markplug:plugin\n")
    (site / "markplug.py").write_text(PLUGIN)


@pytest.mark.parametrize("argv", [["validate", str(CREW)], ["run", str(CREW), "--offline"]])
def test_mas_loads_no_pydantic_plugin_unless_asked(tmp_path: Path, argv: list[str]) -> None:
    site = tmp_path / "site"
    _installed_plugin(site)
    mark = tmp_path / "mark"
    path = os.pathsep.join(filter(None, [str(site), str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PLUGIN_MARK": str(mark)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    command = [sys.executable, "-m", "mas_cli", *argv]
    done = _mas(command, env)
    assert done.returncode == 0, done.stderr
    assert not mark.exists()
    # The plugin is real: a user who sets the variable to anything else gets it, as in pydantic.
    asked = _mas(command, {**env, "PYDANTIC_DISABLE_PLUGINS": ""})
    assert asked.returncode == 0, asked.stderr
    assert mark.read_text() == "used"


def _mas(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=120
    )


def test_command_tools_do_not_inherit_the_setting() -> None:
    from mas_cli.tools.environment import allowed

    assert not allowed("PYDANTIC_DISABLE_PLUGINS")
