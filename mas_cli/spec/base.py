"""The base of every crew-file model."""

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

MAX_WHOLE = 10**15
"""The largest whole number a crew-file field takes (a count, a size, a limit): the budget and
its messages do float arithmetic on them, which a larger one (`max_tokens: 1e400` written out)
overflows."""


class Spec(BaseModel):
    """Base of every crew-file section: strict keys, immutable once loaded."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,  # .inf and .nan are never a limit, a price or a timeout
    )

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any, info: ValidationInfo) -> Any:
        """A whole-number field past MAX_WHOLE is refused (at most, as a `le` bound says it);
        a field of any value (an input's default, a scripted answer) is data, not a number."""
        field = cls.model_fields[info.field_name] if info.field_name else None
        if field is None or field.annotation is Any:
            return value
        if type(value) is int and abs(value) > MAX_WHOLE:
            raise PydanticCustomError(
                "less_than_equal", "Input should be less than or equal to {le}", {"le": MAX_WHOLE}
            )
        return value
