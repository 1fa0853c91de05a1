"""The clock and the ids a write is stamped with: UTC timestamps in the log's form, UUIDv7s.

Neither imports datetime nor uuid: a write in a shell loop pays every import.
"""

from __future__ import annotations

import os
import time


def system_clock() -> str:
    """Now, in the log's ts form (UTC, microseconds, Z), without importing datetime."""
    now = time.time_ns() // 1000
    seconds, micros = divmod(now, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_random = ""  # hex digits from os.urandom for ids, drawn 4 KiB at a time; the first _taken are used
_taken = 0
_stamp = [-1, ""]  # the last millisecond seen, and its 48 bits as "xxxxxxxx-xxxx-7"


def uuid7() -> str:
    """A time-ordered UUID (version 7) from the clock and os.urandom, without importing uuid.

    Random digits are drawn from os.urandom 4 KiB at a time, and the time part is formatted
    once per millisecond: a batch import needs one id per event.
    """
    global _random, _taken
    taken = _taken
    if taken + 19 > len(_random):
        _random, taken = os.urandom(4096).hex(), 0
    _taken = taken + 19
    now = time.time_ns() // 1_000_000
    if now != _stamp[0]:
        text = f"{now & 0xFFFFFFFFFFFF:012x}"
        _stamp[0], _stamp[1] = now, f"{text[:8]}-{text[8:]}-7"
    bits = _random[taken : taken + 19]
    # 48 bits of milliseconds, version 7, 12 random bits, the RFC 4122 variant, 62 random bits.
    return f"{_stamp[1]}{bits[:3]}-{_VARIANT[bits[3]]}{bits[4:7]}-{bits[7:]}"
