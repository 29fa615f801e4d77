"""A run id's time read without strptime (issue 19: `_strptime` was a twentieth of `mas runs`)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.events.store import run_time, stamp_time

DIGITS = st.text(st.sampled_from("0123456789"), min_size=14, max_size=14)


def _strptime(stamp: str) -> datetime | None:
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _ours(stamp: str) -> datetime | None:
    try:
        return stamp_time(stamp)
    except ValueError:
        return None


@settings(max_examples=2000)
@given(DIGITS, st.sampled_from(["T", "t", "X"]))
def test_the_same_time_as_strptime_or_the_same_refusal(digits: str, sep: str) -> None:
    stamp = digits[:8] + sep + digits[8:]
    assert _ours(stamp) == _strptime(stamp)


@settings(max_examples=500)
@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_every_real_time(moment: datetime) -> None:
    stamp = moment.strftime("%Y%m%dT%H%M%S")
    assert _ours(stamp) == _strptime(stamp) == moment.replace(microsecond=0, tzinfo=UTC)


def test_run_ids() -> None:
    assert run_time("20261121T115459278-e4e350") == datetime(2026, 11, 21, 11, 54, 59, tzinfo=UTC)
    assert run_time("latest") is None
