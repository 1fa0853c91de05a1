"""Points in time for --until and --since (contract section 3).

An integer N names event seq N. `YYYY-MM-DD` is the first instant of that day in local
time (TZ); an ISO 8601 date-time with an offset or Z is that instant, without one it is
local time. Every instant becomes the log's own UTC text form, so comparing it with a
recorded `ts` is a plain string comparison.
"""

from __future__ import annotations

import re

from ledger_cli.domain import _Value
from ledger_cli.errors import InvalidValue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

_SEQ = re.compile(r"[0-9]+")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


class Point(_Value):
    """A resolved bound: either an event seq or a UTC instant in the log's ts form."""

    __slots__ = _fields = ("text", "seq", "ts")
    text: str
    seq: int | None
    ts: str | None

    def __init__(self, text: str, seq: int | None = None, ts: str | None = None) -> None:
        super().__init__(text, seq, ts)

    def after(self, seq: int, ts: str) -> bool:
        """Whether an event (seq, ts) lies after this point."""
        if self.seq is not None:
            return seq > self.seq
        return ts > self.ts  # type: ignore[operator]

    def before(self, seq: int, ts: str) -> bool:
        """Whether an event (seq, ts) lies before this point."""
        if self.seq is not None:
            return seq < self.seq
        return ts < self.ts  # type: ignore[operator]


def utc_text(moment: datetime) -> str:
    """The log's ts form: UTC, microseconds, Z."""
    from datetime import timezone

    utc = moment.astimezone(timezone.utc)
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.%fZ")  # %Y is not zero-padded below 1000


def parse_point(text: str, option: str = "--until") -> Point:
    """Resolve the text of --until/--since, or InvalidValue (exit 2)."""
    from datetime import date, datetime  # only a bounded read pays for it

    value = text
    if _SEQ.fullmatch(value):
        return Point(text, seq=int(value))
    try:
        if _DAY.fullmatch(value):
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day).astimezone()  # local midnight
            return Point(text, ts=utc_text(moment))
        if _DATETIME.fullmatch(value):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.astimezone()  # a naive time is local time (TZ)
            return Point(text, ts=utc_text(parsed))
    except (ValueError, OverflowError, OSError):
        pass
    raise InvalidValue(
        f"invalid {option} {text!r}: give an event seq (12), a date (2025-01-01) or a date-time "
        "(2025-01-01T09:30:00Z, with an offset or in local time)"
    )
