"""`mas init`: write a starter crew a user can run at once offline, then edit."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mas_cli.errors import UsageError

FILES = ("crew.yaml", "tools.py")


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Write the starter crew's files into `folder` (created if needed); return their paths.

    Raises:
        UsageError: a file would be overwritten (without `force`), or the folder is not usable.
    """
    targets = [folder / name for name in FILES]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise UsageError(
            f"{', '.join(existing)} already exist{'s' * (len(existing) == 1)}",
            hint="choose another folder (mas init DIR), or overwrite with --force",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for target in targets:
            target.write_text(_template(target.name), encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write the starter crew into {folder}: {exc.strerror}",
            hint="choose a folder you can write to: mas init DIR",
        ) from None
    return targets


def _template(name: str) -> str:
    return resources.files("mas_cli.spec").joinpath("starter", name).read_text(encoding="utf-8")
