"""The rating scale: a configured task parameter that nothing may change silently."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, model_validator

_SCALE_RE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


class Scale(BaseModel):
    """An inclusive integer rating scale, e.g. 1-5 (the default) or 0-3 (TREC)."""

    model_config = ConfigDict(frozen=True)

    lo: int = 1
    hi: int = 5

    @model_validator(mode="after")
    def _check_order(self) -> Scale:
        if self.hi <= self.lo:
            raise ValueError(f"rating scale must have max > min, got {self.lo}-{self.hi}")
        return self

    @classmethod
    def parse(cls, text: str | Scale) -> Scale:
        """Parse "1-5" or "0-3"; raise a ValueError naming the bad value otherwise."""
        if isinstance(text, Scale):
            return text
        match = _SCALE_RE.match(str(text))
        if not match:
            raise ValueError(f"rating scale must look like '1-5' or '0-3', got {text!r}")
        return cls(lo=int(match.group(1)), hi=int(match.group(2)))

    @property
    def span(self) -> int:
        """max - min; NMSE divides the squared error by span**2."""
        return self.hi - self.lo

    @property
    def values(self) -> list[int]:
        return list(range(self.lo, self.hi + 1))

    def contains(self, rating: object) -> bool:
        """True only for an int (not bool) inside the scale."""
        return isinstance(rating, int) and not isinstance(rating, bool) and self.lo <= rating <= self.hi

    def __str__(self) -> str:
        return f"{self.lo}-{self.hi}"


DEFAULT_SCALE = Scale()
