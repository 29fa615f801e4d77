"""The base of every crew-file model."""

from pydantic import BaseModel, ConfigDict

MAX_WHOLE = 10**15
"""The largest whole number a crew-file field takes (a count, a size, a limit): the budget and
its messages do float arithmetic on them, which a larger one (`max_tokens: 1e400` written out)
overflows. Every whole-number field says `le=MAX_WHOLE` (a bound in the schema, checked in
pydantic's core: a validator run on every field cost 2% of `mas validate`); tests/test_spec_
bounds.py holds that none is left without it."""


class Spec(BaseModel):
    """Base of every crew-file section: strict keys, immutable once loaded."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,  # .inf and .nan are never a limit, a price or a timeout
    )
