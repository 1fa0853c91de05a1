"""Log files looked at from outside a fold: the last whole line's event (is a local copy up to
date?) and the first line where two files differ (has what was copied changed since?)."""

from __future__ import annotations

import os

from ledger_cli.errors import LedgerError

CHANGED = "the database's event is not the one this machine copied from it before (changed since)"


def first_unlike(one: str, other: str) -> int | None:
    """The number of the first line where two files differ within their common length."""
    try:
        with open(one, "rb") as left, open(other, "rb") as right:
            line = 1
            while True:
                a, b = left.read(1 << 20), right.read(1 << 20)
                n = min(len(a), len(b))
                if a[:n] != b[:n]:
                    at = next(i for i in range(n) if a[i] != b[i])
                    return line + a.count(b"\n", 0, at)
                if n < 1 << 20:
                    return None
                line += a.count(b"\n")
    except OSError:
        return None


def ends_alike(one: str, other: str) -> bool:
    """Whether the last whole line of `other` is also in `one` at the same offset. When `one`
    has just been verified whole (every line's hash, and each line's prev the hash before it)
    and `other` is a verified copy made before, that one line proves `other` a prefix of `one`:
    its hash covers every line before it. So the full comparison (first_unlike) is needed
    only to name the line where two copies part."""
    found = _last_line(other)
    if found is None or found[2] != found[0] + len(found[1]) + 1:
        return False  # no whole last line (or one longer than the tail read): compare in full
    at, line, size = found
    try:
        with open(one, "rb") as left:
            before = os.pread(left.fileno(), 1, at - 1) if at else b"\n"
            return before == b"\n" and os.pread(left.fileno(), size - at, at) == line + b"\n"
    except OSError:
        return False


def _last_line(path: str) -> tuple[int, bytes, int] | None:
    """(offset, bytes without the newline, file size) of the last newline-ended line within
    the file's last 64 KiB (None: no file, no such line, or one longer than that)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        tail = os.pread(fd, min(size, 1 << 16), max(0, size - (1 << 16)))
    finally:
        os.close(fd)
    end = tail.rfind(b"\n")
    if end < 0:
        return None
    start = tail.rfind(b"\n", 0, end) + 1
    if start == 0 and size > len(tail):
        return None
    return size - len(tail) + start, tail[start:end], size


def last_line_head(path: str) -> tuple[int, str, str | None] | None:
    """(seq, hash, ts) of the last whole line of a file (None: no file or no line)."""
    from ledger_cli.codec import decode_line

    found = _last_line(path)
    if found is None:
        return None
    try:
        event = decode_line(found[1], 0)
    except LedgerError:
        return None
    return event.seq, event.hash or "", event.ts
