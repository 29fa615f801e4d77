"""The base of every crew-file model."""

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """Base of every crew-file section: strict keys, immutable once loaded."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,  # .inf and .nan are never a limit, a price or a timeout
    )
