"""`mas cache stats`: what the tool cache holds, and hit rates from the run logs."""

from __future__ import annotations

from pathlib import Path

from mas_cli.cli.exits import EXIT_OK


def stats(*, home: Path | None, json_out: bool) -> int:
    """Entries and size per tool, and hit rates from the run logs."""
    from mas_cli.cli.render.cache import cache_stats as draw
    from mas_cli.events.store import home_dir
    from mas_cli.events.tool_use import tool_use
    from mas_cli.tools.cache import cache_dir
    from mas_cli.tools.cache_admin import cache_stats

    where = home_dir(home)
    draw(cache_stats(cache_dir(where)), tool_use(where), as_json=json_out)
    return EXIT_OK
