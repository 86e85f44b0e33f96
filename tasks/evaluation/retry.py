"""Retrying one example's LM calls: exponential backoff with jitter, honouring Retry-After.

Only transient LM failures are retried (429, 5xx, timeouts, connection errors). dspy 3.4.1
maps litellm's errors to its own classes but drops the Retry-After header on the way (litellm
keeps it in ``litellm_response_headers``), so the hint is read from the exception chain.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from dspy.utils.exceptions import LMError, is_retryable_lm_error

from judgeflow.errors import InputError

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one example before recording it as an lm_error."""

    max_retries: int = 4
    base_delay: float = 0.5  # seconds before the first retry, doubled each time
    max_delay: float = 30.0
    jitter: float = 0.5  # each wait is scaled by a random factor in [1 - jitter, 1 + jitter]
    max_retry_after: float = 120.0  # a server asking for longer is waited this long at most

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise InputError(f"max_retries must be 0 or more, got {self.max_retries!r}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise InputError(f"retry delays must be non-negative seconds, got {self.base_delay!r}/{self.max_delay!r}")
        if not 0 <= self.jitter < 1:
            raise InputError(f"jitter must be a fraction in [0, 1), got {self.jitter!r}")

    def delay(self, attempt: int, exc: BaseException, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``: Retry-After if sent, else backoff."""
        hint = retry_after_seconds(exc)
        if hint is not None:
            return min(hint, self.max_retry_after)
        backoff = min(self.base_delay * (2**attempt), self.max_delay)
        factor = 1 + (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, backoff * factor)


def is_lm_error(exc: BaseException) -> bool:
    """An error at the LM endpoint (as opposed to a bug in the program or the engine)."""
    return isinstance(exc, LMError)


def is_retryable(exc: BaseException) -> bool:
    """A transient endpoint failure worth another attempt."""
    if is_retryable_lm_error(exc):
        return True
    status = _status(exc)
    return isinstance(exc, LMError) and status in RETRYABLE_STATUS


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's Retry-After hint in seconds, found anywhere in the exception chain."""
    for item in _chain(exc):
        value = getattr(item, "retry_after", None)
        if isinstance(value, int | float) and value >= 0:
            return float(value)
        for headers in (
            getattr(item, "litellm_response_headers", None),
            getattr(getattr(item, "response", None), "headers", None),
            getattr(item, "headers", None),
        ):
            seconds = _parse_retry_after(_header(headers, "retry-after"))
            if seconds is not None:
                return seconds
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    item: BaseException | None = exc
    while item is not None and item not in seen and len(seen) < 10:
        seen.append(item)
        item = item.__cause__ or item.__context__
    return seen


def _status(exc: BaseException) -> int | None:
    for item in _chain(exc):
        for name in ("status", "status_code"):
            value = getattr(item, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def _header(headers: object, name: str) -> str | None:
    if not headers:
        return None
    try:
        items = headers.items()  # type: ignore[attr-defined]
    except AttributeError:
        return None
    return next((str(v) for k, v in items if str(k).lower() == name), None)


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN guard
