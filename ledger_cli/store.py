"""Reading the log file: blocks of whole lines with integrity checks, and what it is not.

Readers never lock: they stop at the last complete line, so they always see a prefix of
whole, verified events. A last line without its newline is a torn write from a crash.
Writing is filewriter's.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator

from ledger_cli.codec import decode_line
from ledger_cli.errors import LogCorrupt, StoreError
from ledger_cli.events import GENESIS, EventLike, event_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


CHUNK = 1 << 20
SMALL_CHUNK = 64 << 10
FAST_DECODE_BYTES = 4 << 20  # above this many bytes to read, msgspec repays its import


class Cursor:
    """A point in the log: after `seq` events, ending at byte `offset`, with head `head`."""

    __slots__ = ("offset", "seq", "head", "ts", "line_start")

    def __init__(
        self, offset: int = 0, seq: int = 0, head: str = GENESIS, ts: str | None = None, line_start: int = 0
    ) -> None:
        self.offset = offset
        self.seq = seq
        self.head = head
        self.ts = ts
        self.line_start = line_start  # where the line of event `seq` starts

    def copy(self) -> Cursor:
        return Cursor(self.offset, self.seq, self.head, self.ts, self.line_start)


_JOURNAL_HINTS = (
    (re.compile(rb"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b"), "a dated plain-text journal (hledger, Ledger or Beancount)"),
    (re.compile(rb"^\s*[;#*%|]"), "a plain-text journal or comment lines (hledger, Ledger)"),
    (re.compile(rb"^\s*(account|include|commodity|option|P |D )"), "a plain-text accounting journal"),
)  # fmt: skip


def _not_a_log(path: str, first_line: bytes) -> StoreError:
    looks = "text that is not JSON Lines"
    for pattern, description in _JOURNAL_HINTS:
        if pattern.match(first_line):
            looks = description
            break
    return StoreError(
        f"{path} is not a ledger log: its first line looks like {looks}; nothing was written "
        "(point --file or LEDGER_CLI_FILE at a ledger .jsonl log)"
    )


def _is_torn_fragment(tail: bytes) -> bool:
    """Whether bytes after the last newline look like an interrupted append."""
    stripped = tail.rstrip(b"\0")
    return stripped == b"" or stripped.startswith(b"{") or tail.startswith(b"\0")


class LogScan:
    """Iterate the verified events of a log from `start`; `cursor` follows the last one.

    Every line is parsed strictly, hash-checked, and checked for seq, prev and ts order.
    The scan stops at the last complete line; bytes after it are left in `torn`.
    """

    def __init__(
        self,
        path: str,
        fd: int,
        start: Cursor,
        *,
        bulk: bool | None = None,
        trusted: tuple[int, int] | None = None,
        stop: int | None = None,
    ) -> None:
        self.path = path
        self.fd = fd
        self.cursor = start.copy()
        self.torn = b""
        if bulk is None:  # msgspec repays its import only on a long read
            bulk = os.fstat(fd).st_size - start.offset > FAST_DECODE_BYTES
        self.bulk = bulk or trusted is not None
        # Line-by-line reads are short (a small log, or a bounded read from a checkpoint):
        # small blocks, so a read that stops early does not verify far past its bound.
        self.chunk = CHUNK if self.bulk else SMALL_CHUNK
        # Byte range (line-aligned) that another process verifies meanwhile: blocks inside it
        # are only decoded here. The caller must check that process's verdict (fastcodec.Helper).
        self.trusted = trusted
        self.stop = stop  # a line-aligned offset to stop at (another process takes what follows)

    def whole_blocks(self) -> Iterator[tuple[int, bytes]]:
        """The file from the cursor in blocks of whole lines, as (offset, bytes); unverified.

        Blocks end at the trusted range's edges and at `stop`. The caller verifies the lines
        and moves the cursor past each good one (the error for a bad last line names the line
        after the cursor's). After the scan `torn` holds any bytes after the last newline.
        LogCorrupt or StoreError if the file is not a log or ends in a bad line.
        """
        fd = self.fd
        offset = self.cursor.offset
        first = self.cursor.seq == 0
        rest = b""
        edges = (*(self.trusted or ()), *(() if self.stop is None else (self.stop,)))
        while True:
            size = self.chunk
            position = offset + len(rest)
            if self.stop is not None and position >= self.stop:
                break
            for edge in edges:  # blocks must not straddle the trusted range or the stop
                if position < edge:
                    size = min(size, edge - position)
                    break
            try:
                chunk = os.pread(fd, size, position)
            except OSError as exc:
                raise StoreError(f"cannot read {self.path}: {exc.strerror}") from None
            if not chunk:
                break
            block = rest + chunk
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if not cut:
                continue
            if first and not block.startswith(b"{"):
                raise _not_a_log(self.path, block[: block.find(b"\n")])
            first = False
            yield offset, block[:cut] if rest else block
            offset += cut
        if rest:
            if first and not rest.startswith(b"{") and not _is_torn_fragment(rest):
                raise _not_a_log(self.path, rest)
            if not _is_torn_fragment(rest):
                raise LogCorrupt(self.cursor.seq + 1, "the last line is not valid (and has no newline)")
            self.torn = rest

    def blocks(self) -> Iterator[tuple[int, list[EventLike], list[bytes]]]:
        """The verified events block by block, as (offset of the first line, events, lines).

        After the scan, `cursor` holds the end of the last whole line and `torn` any
        bytes after it. Verification of a block is all or nothing on the bulk path; on
        the line-by-line path the good lines before a bad one are yielded first.
        """
        cursor = self.cursor
        verify_block: Callable[[bytes, int, str, str], tuple[list[Any], list[bytes]] | None] | None = None
        if self.bulk:
            from ledger_cli import fastcodec

            verify_block = fastcodec.verify_block
        seq = cursor.seq
        head = cursor.head
        ts = cursor.ts or ""
        trusted = self.trusted
        for offset, block in self.whole_blocks():
            cut = len(block)
            if trusted is not None and trusted[0] <= offset and offset + cut <= trusted[1]:
                from ledger_cli.fastcodec import decode_block

                verified = decode_block(block)
            elif verify_block is not None:
                verified = verify_block(block, seq, head, ts)
            else:
                verified = None
            if verified is None:
                events: list[EventLike] = []
                lines: list[bytes] = []
                try:
                    for ev, line in check_lines(block, seq, head, ts):
                        events.append(ev)
                        lines.append(line)
                except LogCorrupt:
                    if events:
                        yield offset, events, lines
                    raise
            else:
                events, lines = verified  # type: ignore[assignment]
            if events:
                last = events[-1]
                seq, head, ts = last.seq, last.hash, last.ts  # type: ignore[assignment]
                cursor.offset, cursor.seq, cursor.head, cursor.ts = offset + cut, seq, head, ts
                cursor.line_start = offset + cut - len(lines[len(events) - 1]) - 1
            yield offset, events, lines


def check_lines(block: bytes, seq: int, head: str, ts: str) -> Iterator[tuple[EventLike, bytes]]:
    """Verify whole lines one by one with the standard library, yielding each good one;
    LogCorrupt names the first bad one."""
    lines = block.split(b"\n")
    lines.pop()  # the block ends with a newline
    for line in lines:
        seq += 1
        ev = decode_line(line, seq)
        if ev.seq != seq:
            raise LogCorrupt(seq, f"seq is {ev.seq}, expected {seq} (a line is missing, duplicated or moved)")
        if ev.prev != head:
            raise LogCorrupt(seq, "prev does not match the hash of the line before (the chain is broken)")
        if ev.ts < ts:
            raise LogCorrupt(seq, f"ts {ev.ts} is earlier than the line before ({ts})")
        problem = event_problem(ev)
        if problem is not None:
            raise LogCorrupt(seq, problem)
        head = ev.hash  # type: ignore[assignment]
        ts = ev.ts
        yield ev, line


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def not_a_file(path: str, mode: int) -> StoreError:
    """The error for a log name that is not a regular file (it would hang, or take no lock)."""
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return StoreError(f"{path} is {kind}, not a ledger log (a log is a regular file); nothing was read or written")


def open_for_reading(path: str) -> int | None:
    """A read-only descriptor on the log, or None when the log does not exist yet.

    O_NONBLOCK: opening a FIFO must not wait for a writer; anything but a regular file is refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise StoreError(f"{path} is a folder, not a ledger log") from None
    except OSError as exc:
        raise StoreError(f"cannot open {path}: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise not_a_file(path, mode)
    return fd
