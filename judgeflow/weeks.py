"""ISO weeks ("2026-W47"): the unit of the weekly loop."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from judgeflow.errors import InputError

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(text: str) -> str:
    """Normalise and check an ISO week such as 2026-W47; raise InputError otherwise."""
    match = _WEEK_RE.match(str(text).strip())
    if not match:
        raise InputError(f"week must be an ISO week like 2026-W47, got {text!r}")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise InputError(f"week {text!r} does not exist: {year} has no ISO week {week}") from exc
    return f"{year:04d}-W{week:02d}"


def week_start(week: str) -> date:
    """The Monday that opens the week."""
    year, num = (int(p) for p in parse_week(week).split("-W"))
    return date.fromisocalendar(year, num, 1)


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) as naive datetimes (timestamps are stored naive)."""
    start = datetime.combine(week_start(week), datetime.min.time())
    return start, start + timedelta(days=7)


def week_of(day: date | datetime) -> str:
    iso = day.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def shift_week(week: str, weeks: int) -> str:
    return week_of(week_start(week) + timedelta(weeks=weeks))


def last_complete_week(timezone: str = "UTC", now: datetime | None = None) -> str:
    """The most recent ISO week that has fully ended in the given timezone."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"timezone must be an IANA name like Europe/Paris, got {timezone!r}") from exc
    current = (now or datetime.now(UTC)).astimezone(tz).date()
    return week_of(current - timedelta(days=7))
