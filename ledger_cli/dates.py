"""Calendar days (`YYYY-MM-DD`, contract section 7) without importing datetime: a real date
test, the day after or before, and the local calendar day of a recorded `ts` (the reader's TZ,
as --until resolves a date), which is the date of every v1 event.

Days are compared as text: the ISO form sorts as the calendar does.
"""

from __future__ import annotations

import re
import time

_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_LENGTHS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_day(text: str) -> bool:
    """Whether `text` is a real calendar date from 0001-01-01 to 9999-12-31 in ISO form."""
    found = _DAY.fullmatch(text)
    if found is None:
        return False
    year, month, day = int(found[1]), int(found[2]), int(found[3])
    if year < 1 or not 1 <= month <= 12 or day < 1:
        return False
    return day <= (29 if month == 2 and _leap(year) else _LENGTHS[month - 1])


def day_number(text: str) -> int:
    """Days since 1970-01-01 of a real date (negative before it)."""
    y, m, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def day_text(number: int) -> str:
    """The date `number` days after 1970-01-01 (the inverse of day_number)."""
    z = number + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (m <= 2)
    return f"{y:04d}-{m:02d}-{d:02d}"


def shift(text: str, days: int) -> str:
    """The date `days` after (or before) a real date."""
    return day_text(day_number(text) + days)


_LOCAL: dict[str, str] = {}  # a ts's minute "YYYY-MM-DDTHH:MM" -> its local calendar date


def local_day(ts: str) -> str:
    """The local calendar date (TZ, through the C library's rules, as time.localtime reads
    them) of a recorded ts. Offsets are whole minutes, so one minute has one local date."""
    minute = ts[:16]
    found = _LOCAL.get(minute)
    if found is None:
        if len(_LOCAL) > 100_000:
            _LOCAL.clear()
        epoch = day_number(ts[:10]) * 86400 + int(ts[11:13]) * 3600 + int(ts[14:16]) * 60
        offset = time.localtime(epoch).tm_gmtoff
        found = _LOCAL[minute] = day_text((epoch + offset) // 86400)
    return found


def forget_zone() -> None:
    """Drop the cached local dates (after TZ changed in this process: tests)."""
    _LOCAL.clear()


def zone_key() -> str:
    """What names the local time zone's rules here: a state holding v1 events' dates or the
    entries dated other than their ts's local day is only good under the zone it was folded in
    (checkpoints record it). Two names of one zone give one key: the rules are named by the
    size and CRC-32 of the zone file the C library reads (TZ unset: /etc/localtime; TZ=UTC and
    TZ=Etc/UTC, or a link and its target, are one file's bytes), a rule string by itself."""
    import os
    from zlib import crc32

    tz = os.environ.get("TZ")
    rules = _zone_file(tz)
    named = "tz:" + (tz if tz is not None else "-") if rules is None else f"{len(rules)}:{crc32(rules):08x}"
    return f"{named}|{time.tzname}|{time.timezone}|{time.altzone}"


def _zone_file(tz: str | None) -> bytes | None:
    """The bytes of the zone file the C library takes for TZ=`tz` (None: none; the rules are
    then the TZ string itself, or UTC)."""
    import os

    if tz is None:
        path = "/etc/localtime"
    else:
        name = tz[1:] if tz.startswith(":") else tz
        if not name or ".." in name.split("/"):
            return None
        path = name if name.startswith("/") else os.path.join(os.environ.get("TZDIR") or "/usr/share/zoneinfo", name)
    try:
        with open(path, "rb") as source:
            blob = source.read(1 << 20)
    except OSError:
        return None
    return blob if blob.startswith(b"TZif") else None
