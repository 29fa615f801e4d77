"""Workers of a local batch divide the crew's rate limits: together they never pass one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mas_cli.batch.shares import most_workers, share
from mas_cli.spec.models import CrewSpec

LIMIT = st.one_of(st.none(), st.integers(min_value=1, max_value=10_000))


def _spec(rates: dict[str, tuple[int | None, int | None]]) -> CrewSpec:
    return CrewSpec.model_validate(
        {
            "name": "c",
            "models": {"m": {"provider": "offline", "model": "gpt-4o-mini"}},
            "agents": {"a": {"role": "r", "goal": "g", "model": "m"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "p"}],
            "rate_limits": {
                key: {k: v for k, v in (("rpm", rpm), ("tpm", tpm)) if v is not None}
                for key, (rpm, tpm) in rates.items()
            },
        }
    )


@given(
    rates=st.dictionaries(
        st.sampled_from(["openai", "anthropic", "gpt-4o-mini"]),
        st.tuples(LIMIT, LIMIT).filter(lambda r: r != (None, None)),
        max_size=3,
    ),
    wanted=st.integers(min_value=1, max_value=8),
)
def test_the_workers_shares_never_add_up_past_a_limit(
    rates: dict[str, tuple[int | None, int | None]], wanted: int
) -> None:
    spec = _spec(rates)
    workers = most_workers(spec, wanted)
    assert 1 <= workers <= wanted
    mine = share(spec, workers).rate_limits
    for key, rate in spec.rate_limits.items():
        for whole, part in ((rate.rpm, mine[key].rpm), (rate.tpm, mine[key].tpm)):
            if whole is not None:
                assert part is not None
                assert part >= 1
                assert part * workers <= whole


def test_a_limit_of_one_request_a_minute_gets_one_worker() -> None:
    assert most_workers(_spec({"openai": (1, None)}), 4) == 1
    assert most_workers(_spec({"openai": (500, 200_000)}), 4) == 4
