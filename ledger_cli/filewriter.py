"""Appending to the log file: locking, one write, fsync, undo on failure.

Writers serialise on an exclusive flock(2) of `<log>.lock`; inside it they read what is
new, decide, append every new line with one os.write on an O_APPEND descriptor, fsync,
and only then report success. A failed write is truncated back to the size before it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
import time
from collections.abc import Iterator
from types import TracebackType

from ledger_cli.codec import seal
from ledger_cli.config import LOCK_TIMEOUT_ENV, lock_timeout
from ledger_cli.errors import LedgerError, LockTimeout, StoreError
from ledger_cli.events import Event
from ledger_cli.interrupts import durable, hold, pending, writing
from ledger_cli.store import not_a_file


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
