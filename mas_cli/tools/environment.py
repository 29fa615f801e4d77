"""The environment a command tool runs with: an allow-list, never the whole of mas's.

A command gets only what a program needs to start and behave (the search path, the home
folder, the user, locale, time zone, temporary folder, Python's own start-up variables, and on
Windows the system folders), plus the variables its `env:` names. A model's key variable is
refused in `env:` by `mas validate`; and whatever the names, a variable whose value holds a
known key is never passed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from mas_cli.redact import Secrets, looks_secret

ALLOWED = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "VIRTUAL_ENV",
        "SYSTEMROOT",  # Windows: Python cannot start without it
        "WINDIR",
        "COMSPEC",
        "PATHEXT",
    }
)
ALLOWED_PREFIXES = ("LC_",)


def allowed(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether a variable of this name reaches a command tool. A prefix lets any name through
    (`LC_API_TOKEN`): one named like a secret passes only when `env:` lists it."""
    if name in ALLOWED or name in set(extra):
        return True
    return name.startswith(ALLOWED_PREFIXES) and not looks_secret(name)


def tool_environment(
    extra: Iterable[str], keys: Secrets, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allow-listed variables and those in `extra`, except any whose value holds a key."""
    env = os.environ if environ is None else environ
    names = set(extra)
    return {
        name: value
        for name, value in env.items()
        if allowed(name, names) and not keys.found_in(value)
    }
