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

MAX_SEQ = 10**18  # a seq bound above it is clamped: no log holds that many events
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


def local_instant(naive: datetime) -> datetime:
    """The instant a local wall-clock time (TZ) names, as an aware UTC datetime.

    Around a change of offset a wall-clock time may name no instant or two. One in a gap (a
    spring-forward hour, or a midnight that does not exist) moves forward: it is read with the
    offset in force before the gap, so `2025-09-07` in America/Santiago, a day that starts at
    01:00, means 01:00. One that happens twice (a fall-back hour) is the earlier instant. Both
    as zoneinfo's fold=0 reads them. The offsets come from the C library's own TZ rules
    (time.localtime), so a POSIX TZ string works as well as a zone name.
    """
    import calendar
    import time
    from datetime import datetime, timedelta, timezone

    wall = calendar.timegm(naive.replace(microsecond=0).timetuple())  # the wall time's digits, as if UTC
    before = time.localtime(wall - 86400).tm_gmtoff  # offsets are under a day: one side each
    after = time.localtime(wall + 86400).tm_gmtoff
    candidates = sorted({wall - before, wall - after})
    valid = [instant for instant in candidates if instant + time.localtime(instant).tm_gmtoff == wall]
    instant = valid[0] if valid else wall - before  # twice: the earlier; never: forward
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    try:
        return epoch + timedelta(seconds=instant, microseconds=naive.microsecond)
    except OverflowError:  # before year 1 or after 9999 in UTC: the first or last instant there is
        return datetime.min.replace(tzinfo=timezone.utc) if instant < 0 else datetime.max.replace(tzinfo=timezone.utc)


def parse_point(text: str, option: str = "--until") -> Point:
    """Resolve the text of --until/--since, or InvalidValue (exit 2)."""
    from datetime import date, datetime  # only a bounded read pays for it

    value = text
    if _SEQ.fullmatch(value):  # past any log's end it means the whole log (and fits the C fold)
        return Point(text, seq=int(value) if len(value) <= 18 else MAX_SEQ)
    try:
        if _DAY.fullmatch(value):
            day = date.fromisoformat(value)
            return Point(text, ts=utc_text(local_instant(datetime(day.year, day.month, day.day))))
        if _DATETIME.fullmatch(value):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = local_instant(parsed)  # a naive time is local time (TZ)
            return Point(text, ts=utc_text(parsed))
    except (ValueError, OverflowError, OSError):
        pass
    raise InvalidValue(
        f"invalid {option} {text!r}: give an event seq (12), a date (2025-01-01) or a date-time "
        "(2025-01-01T09:30:00Z, with an offset or in local time)"
    )


def parse_day(text: str, option: str = "--date") -> str:
    """A calendar date given to --date or --as-of, or InvalidValue (exit 2)."""
    from ledger_cli.dates import is_day

    if not is_day(text):
        raise InvalidValue(f"invalid {option} {text!r}: give a real calendar date as YYYY-MM-DD (2025-12-31)")
    return text


def day_end(day: str) -> Point:
    """The last instant of a calendar date in local time (TZ): the microsecond before the
    midnight that starts the next day, so the events up to it are those recorded on that
    local day or before (dates.local_day of their ts)."""
    from datetime import date, datetime, timedelta

    following = date.fromisoformat(day) + timedelta(days=1)
    try:
        midnight = local_instant(datetime(following.year, following.month, following.day))
        return Point(day, ts=utc_text(midnight - timedelta(microseconds=1)))
    except OverflowError:
        return Point(day, seq=MAX_SEQ)
