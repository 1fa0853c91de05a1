"""The append-only log on disk: locating it, locking, reading with integrity checks, appending.

Writers serialise on an exclusive flock(2) of `<log>.lock`; inside it they read what is
new, decide, append every new line with one os.write on an O_APPEND descriptor, fsync,
and only then report success. A failed write is truncated back to the size before it.
Readers never lock: they stop at the last complete line, so they always see a prefix of
whole, verified events. A last line without its newline is a torn write from a crash.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import signal
import stat
import time
from collections.abc import Iterator
from types import TracebackType

from ledger_cli.config import LOCK_TIMEOUT_ENV, lock_timeout
from ledger_cli.errors import LedgerError, LockTimeout, LogCorrupt, StoreError
from ledger_cli.events import GENESIS, Event, EventLike, decode_line, event_problem, seal
from ledger_cli.interrupts import durable, hold, pending, writing

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


def _mkdirs(folder: str) -> None:
    """Create missing folders with mode 0700 (whatever the umask), fsyncing each parent."""
    missing: list[str] = []
    while not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for created in reversed(missing):
        try:
            os.mkdir(created, 0o700)
        except FileExistsError:
            continue
        os.chmod(created, 0o700)
        _fsync_dir(os.path.dirname(created))


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_private(path: str, flags: int) -> tuple[int, bool]:
    """Open (creating with mode 0600 if missing) and say whether it was created."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return os.open(path, flags | os.O_CLOEXEC), False
    os.fchmod(fd, 0o600)
    return fd, True


class Writer:
    """The write side, used as a context manager: lock, open, append with fsync, unlock.

    Two locks are taken, in this order: `<log>.lock` beside the log's real path (symlinks
    resolved; a backup script can hold it), then a flock of the log's own descriptor. A hard
    link is another path to the same file, with a lock file of its own: the second lock is the
    one every name of the file shares.
    """

    def __init__(self, path: str, timeout: float | None = None, *, notes: list[str] | None = None) -> None:
        self.path = os.path.realpath(path)
        self.notes = [] if notes is None else notes  # what a user should hear of, said by the CLI
        self.lock_path = self.path + ".lock"
        self.torn_path = self.path + ".torn"
        self._lock_fd = -1
        self.fd = -1
        self._deadline = 0.0
        self._timeout = 0.0
        self._wait = timeout  # seconds; None: LEDGER_CLI_LOCK_TIMEOUT

    def __enter__(self) -> Writer:
        writing()  # from here an interrupt says "nothing was recorded"
        try:
            self._refuse_special()
            _mkdirs(os.path.dirname(self.path))
            self._lock_fd, _ = _open_private(self.lock_path, os.O_RDWR)
            self._timeout = lock_timeout() if self._wait is None else self._wait
            self._deadline = time.monotonic() + self._timeout
            self._acquire(self._lock_fd)
            try:  # a missing log is created by the first append, not before: a refusal leaves no file
                self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NONBLOCK)
            except FileNotFoundError:
                self.fd = -1
            if self.fd >= 0:
                mode = os.fstat(self.fd).st_mode
                if not stat.S_ISREG(mode):
                    raise not_a_file(self.path, mode)
                self._acquire(self.fd)
        except LedgerError:
            self._release()
            raise
        except IsADirectoryError:
            self._release()
            raise StoreError(f"{self.path} is a folder, not a ledger log") from None
        except OSError as exc:
            self._release()
            raise StoreError(f"cannot open {exc.filename or self.path} for writing: {exc.strerror}") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._release()

    def _refuse_special(self) -> None:
        """A name that is not a regular file takes no lock file beside it (no /dev/null.lock)."""
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISREG(mode):
            raise not_a_file(self.path, mode)

    def _acquire(self, fd: int) -> None:
        pause = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    f"{self.path} is locked by another writer (waited {self._timeout:g}s; "
                    f"set {LOCK_TIMEOUT_ENV} to wait longer); nothing was written"
                )
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)

    def _release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor drops its flock
            self.fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def quarantine(self, at: int, torn: bytes) -> None:
        """Move a torn tail aside: append it to `<log>.torn` (fsynced), then cut it off."""
        self.notes.append(
            f"moved {len(torn)} bytes of an interrupted write from the end of {self.path} to {self.torn_path}"
        )
        try:
            fd, _ = _open_private(self.torn_path, os.O_WRONLY | os.O_APPEND)
            try:
                _write_all(fd, torn if torn.endswith(b"\n") else torn + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.ftruncate(self.fd, at)
            os.fsync(self.fd)
        except OSError as exc:
            raise StoreError(f"cannot move the torn tail of {self.path} aside: {exc.strerror}") from None

    def append(self, at: int, events: list[Event]) -> int:
        """Seal and append `events` at byte `at` (the log's verified end) in one write, fsynced.

        Returns where the last new line starts. On any failure what this call wrote is
        truncated away and StoreError is raised.
        """
        lines = [seal(event) for event in events]
        data = b"".join(lines)
        self.append_bytes(at, data)
        return at + len(data) - len(lines[-1])

    def append_bytes(self, at: int, data: bytes | Iterator[bytes]) -> None:
        """Append at byte `at`, fsynced: durable on return. SIGINT and SIGTERM are held from
        here on (interrupts): one that comes before the fsync undoes the write."""
        try:
            previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        except ValueError:  # not the main thread: handlers are the main thread's to set
            previous = None
        hold()
        wrote = False  # only bytes this call wrote are ever truncated away
        try:
            if self.fd < 0:
                self.fd, created = _open_private(self.path, os.O_RDWR | os.O_APPEND)
                self._acquire(self.fd)
                if created:
                    os.fsync(self.fd)
                    _fsync_dir(os.path.dirname(self.path))
            size = os.fstat(self.fd).st_size
            if size != at:
                raise StoreError(f"{self.path} changed while it was locked; nothing was written")
            wrote = True
            if isinstance(data, bytes):
                _write_all(self.fd, data, single=True)
            else:
                for piece in data:
                    if pending():
                        raise KeyboardInterrupt
                    _write_all(self.fd, piece)
            if pending():
                raise KeyboardInterrupt
            os.fsync(self.fd)
            durable()
        except OSError as exc:
            if wrote:
                self._undo(at)
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
            raise StoreError(f"could not append to {self.path}: {reason}; nothing was recorded") from None
        except BaseException:
            if wrote:
                self._undo(at)
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGXFSZ, previous)

    def _undo(self, at: int) -> None:
        try:
            os.ftruncate(self.fd, at)
            os.fsync(self.fd)
        except OSError:
            pass


def _write_all(fd: int, data: bytes, *, single: bool = False) -> None:
    """Write `data`; with `single`, a short write is an error (it is never continued)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written < len(view) and single:
            raise OSError(errno.EIO, "the write was cut short (the disk is full or the file size limit reached)")
        view = view[written:]
