"""Finding the event at a seq in the file: a reversal's target, an idempotency key's event.

Lines are counted from a sample of the line index or, better, from a verified snapshot's line
start (checkpoint.Snapshots), so a lookup never has to read the log from byte 0.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterator

from ledger_cli.codec import decode_line
from ledger_cli.errors import StoreError
from ledger_cli.events import Event
from ledger_cli.store import CHUNK

LINE_GUESS = 8 << 10  # bytes read for one line (a longer one is read on)


class LineIndex:
    """Where the lines of a log are, sampled every STEP bytes, so that finding event `seq`
    (a reversal's target, an idempotency key's event) reads at most STEP bytes past a sample
    instead of counting newlines from byte 0 each time: a batch of 20,000 keyed retries
    would otherwise read the log 20,000 times.

    `lines[k]` is the number of the line that byte k * STEP lies in. The log only grows while
    it is open (a torn tail is cut off only past the verified lines), so samples stay true.
    """

    STEP = 16 << 10

    def __init__(self, fd: int, near: Callable[[int], tuple[int, int] | None] | None = None) -> None:
        self.fd = fd
        self.lines = [1]
        self.end = 0  # bytes counted so far (a multiple of STEP, or the end of the file)
        self.near = near  # a checkpoint's line start before a seq: then no counting from byte 0

    def start(self, seq: int) -> tuple[int, int]:
        """A byte offset at or before the start of line `seq`, and the number of its line."""
        step = self.STEP
        while self.lines[-1] < seq and self.end == (len(self.lines) - 1) * step:
            chunk = os.pread(self.fd, CHUNK, self.end)
            if not chunk:
                break
            line = self.lines[-1]
            for at in range(0, len(chunk), step):
                piece = chunk.count(b"\n", at, at + step)
                if at + step > len(chunk):  # a short last piece: no sample after it yet
                    self.end += len(chunk) - at
                    break
                line += piece
                self.lines.append(line)
                self.end += step
        k = bisect_left(self.lines, seq) - 1  # the last sample inside a line before `seq`
        return (0, 1) if k < 0 else (k * step, self.lines[k])


def event_at(path: str, fd: int, seq: int, index: LineIndex | None = None) -> Event:
    """The event on line `seq` (hash-checked), found by counting newlines (from the nearest
    sample of `index`, if one is given)."""
    return decode_line(line_at(path, fd, seq, index), seq)


def line_at(path: str, fd: int, seq: int, index: LineIndex | None = None) -> bytes:
    """Line `seq` as it is in the file, without its newline (not checked)."""
    offset = line_start(path, fd, seq, index)
    rest = os.pread(fd, LINE_GUESS, offset)
    end = rest.find(b"\n")
    while end < 0:
        more = os.pread(fd, CHUNK, offset + len(rest))
        if not more:
            raise StoreError(f"{path}: event {seq} is {'incomplete' if rest else 'missing'}")
        rest += more
        end = rest.find(b"\n")
    return rest[:end]


def line_start(path: str, fd: int, seq: int, index: LineIndex | None = None) -> int:
    """The byte offset where line `seq` starts.

    `offset` always lies inside line `line`; the target starts after the (seq - line)th
    newline from there, which may be the last newline of a block (issue 8: a line that
    starts after a block's last newline was skipped with the rest of the block).
    """
    hint = None if index is None or index.near is None else index.near(seq)
    if hint is not None:  # a snapshot's verified line start before `seq`
        offset, line = hint
    else:
        offset, line = (0, 1) if index is None else index.start(seq)
    size = CHUNK if index is None else LineIndex.STEP
    while line < seq:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            raise StoreError(f"{path}: event {seq} is missing")
        newlines = chunk.count(b"\n")
        if line + newlines < seq:
            line += newlines
            offset += len(chunk)
            continue
        position = 0
        while line < seq:
            position = chunk.index(b"\n", position) + 1
            line += 1
        offset += position
    return offset


def lines_from(path: str, fd: int, offset: int, count: int) -> Iterator[bytes]:
    """`count` whole lines from byte `offset` (each with its newline), a MiB or so at a time."""
    size = CHUNK
    while count > 0:
        chunk = os.pread(fd, size, offset)
        end = chunk.rfind(b"\n") + 1
        if not end and len(chunk) == size:  # a line longer than a block
            size *= 2
            continue
        if not end:
            raise StoreError(f"{path}: {count} events are missing at its end")
        size = CHUNK
        newlines = chunk.count(b"\n", 0, end)
        if newlines > count:
            end, newlines = _after_newlines(chunk, count), count
        yield chunk[:end]
        offset += end
        count -= newlines


def _after_newlines(chunk: bytes, count: int) -> int:
    position = 0
    for _ in range(count):
        position = chunk.index(b"\n", position) + 1
    return position
