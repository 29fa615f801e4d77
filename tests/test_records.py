"""Records are msgspec Structs (mas_cli/records.py): cheap to define at start-up, and the
`replace` and `asdict` every call site uses treat them as dataclasses.replace and asdict would."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest

from mas_cli import records

ROOT = Path(__file__).resolve().parent.parent
FRAUD = str(ROOT / "crews" / "fraud-review" / "crew.yaml")
# The dataclasses these commands still define, each for what a Struct lacks.
KEPT = {
    "CommandTool": "its environment is left out of repr and comparison (it may hold secrets)",
    "WrappedTool": "ScrubbedTool extends it, and CommandTool sits beside it",
    "ScrubbedTool": "extends WrappedTool",
    "Guard": "__post_init__ derives fields (a Struct runs it again on every copy)",
    "Price": "fields hidden from repr and comparison",
    "LineSource": "__post_init__ opens its source",
    "Partial": "pickled field by field through its own __getstate__",
    "Tally": "__post_init__ builds its state",
    "Mismatch": "read with vars() for --json",
    "_Lines": "generic over its event type",
    "AgentBound": "its JSON is its __dict__",
    "Validation": "fields hidden from repr and comparison",
}


class Inner(msgspec.Struct, frozen=True):
    a: int
    tags: tuple[str, ...] = ()


class Outer(msgspec.Struct):
    inner: Inner
    items: list[Inner] = msgspec.field(default_factory=list)
    extra: dict[str, Inner] = msgspec.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DInner:
    a: int
    tags: tuple[str, ...] = ()


@dataclasses.dataclass
class DOuter:
    inner: DInner
    items: list[DInner] = dataclasses.field(default_factory=list)
    extra: dict[str, DInner] = dataclasses.field(default_factory=dict)


def test_asdict_of_a_struct_is_what_dataclasses_gives_for_the_same_record() -> None:
    struct = Outer(Inner(1, ("x",)), [Inner(2)], {"k": Inner(3, ("y", "z"))})
    plain = DOuter(DInner(1, ("x",)), [DInner(2)], {"k": DInner(3, ("y", "z"))})
    assert records.asdict(struct) == dataclasses.asdict(plain)
    assert records.asdict(plain) == dataclasses.asdict(plain)
    with pytest.raises(TypeError):
        records.asdict([1, 2])


def test_replace_takes_either_kind_and_leaves_the_original() -> None:
    first = Inner(1)
    assert records.replace(first, a=2) == Inner(2)
    assert first == Inner(1)
    assert records.replace(DInner(1), tags=("t",)) == DInner(1, ("t",))
    with pytest.raises(TypeError):
        records.replace(first, b=1)  # an unknown field is refused, as dataclasses does


@pytest.mark.parametrize(
    "argv",
    [
        ["run", FRAUD, "--offline", "--quiet"],
        ["validate", FRAUD],
        ["runs"],
        ["triage", "loops", "--last"],
    ],
)
def test_start_up_defines_no_dataclass_beyond_the_kept_ones(
    tmp_path: Path, argv: list[str]
) -> None:
    """Defining a dataclass costs 0.4-0.9 ms here (`exec` of its methods): `mas run` defined 69
    of mas's before its first model call, `mas triage loops` 35. A new one on these paths must
    be a Struct, or be listed in KEPT with the reason."""
    script = textwrap.dedent(
        f"""
        import dataclasses, sys
        made = []
        define = dataclasses._process_class
        def watched(cls, *args, **kwargs):
            if cls.__module__.startswith("mas_cli"):
                made.append(cls.__name__)
            return define(cls, *args, **kwargs)
        dataclasses._process_class = watched
        from mas_cli.cli import main
        sys.argv = ["mas", *{[*argv, "--home", str(tmp_path)] if argv[0] != "validate" else argv!r}]
        code = main()
        sys.stderr.write("\\nDEFINED " + " ".join(made))
        raise SystemExit(code)
        """
    )
    if argv[0] not in ("run", "validate"):  # a home with a run in it, made beforehand
        made = [sys.executable, "-m", "mas_cli", "run", FRAUD, "--offline", "--quiet"]
        made += ["--home", str(tmp_path)]
        assert subprocess.run(made, capture_output=True, check=False, timeout=120).returncode == 0
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    defined = set(done.stderr.rsplit("DEFINED ", 1)[1].split())
    if argv[0] in ("run", "validate"):  # they still define some of KEPT
        assert defined, "the probe saw no dataclass at all: it no longer watches the right function"
    assert defined <= set(KEPT), sorted(defined - set(KEPT))
