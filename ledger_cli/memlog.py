"""The in-memory reference store (eventlog.EventLog): canonical lines in a list, under a lock.

It checks what it reads exactly as the file store does, with store.check_lines. So a line
tampered with in memory is named by its seq, the same commands give the same head hash as on
a file, and the contract suite can hold every other store to this one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial

from ledger_cli import folding
from ledger_cli.codec import decode_line, line_of, seal_chain
from ledger_cli.domain import State
from ledger_cli.errors import LockTimeout
from ledger_cli.eventlog import EMPTY, Head, Snapshot, VerifyReport
from ledger_cli.events import Event, EventLike
from ledger_cli.store import check_lines
from ledger_cli.when import Point


class MemorySnapshots:
    def __init__(self, log: MemoryLog) -> None:
        self.log = log
        self.kept: dict[int, Snapshot] = {}

    def save(self, seq: int, hash: str, data: bytes) -> None:
        self.kept[seq] = Snapshot(seq, hash, bytes(data))

    def best(self, until: int | None = None) -> Snapshot | None:
        for seq in sorted(self.kept, reverse=True):
            if until is not None and seq > until:
                continue
            event = self.log.at(seq)
            if event is not None and event.hash == self.kept[seq].hash:
                return self.kept[seq]
        return None


class MemoryLog:
    """A log held in memory: for tests, and the reference the other stores are held to."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []  # each sealed line, newline included
        self._lock = threading.Lock()
        self._grown = threading.Condition()
        self.snapshots = MemorySnapshots(self)
        self.notes: list[str] = []

    def head(self) -> Head:
        lines = self.lines
        if not lines:
            return EMPTY
        last = self._events(len(lines) - 1, len(lines))
        event = next(last)
        return Head(event.seq, event.hash or "", event.ts)

    def _events(self, start: int, end: int) -> Iterator[Event]:
        """Verified events of lines[start:end] (0-based), the chain checked from line `start`."""
        if start >= end:
            return
        if start == 0:
            seq, prev, ts = EMPTY
        else:
            before = decode_line(self.lines[start - 1][:-1], start)  # its own hash checked
            seq, prev, ts = before.seq, before.hash or "", before.ts
        block = b"".join(self.lines[start:end])
        for event, _ in check_lines(block, seq, prev, ts or ""):
            yield event  # type: ignore[misc]

    def read(self, after: int = 0, until: Point | None = None) -> Iterator[Event]:
        end = len(self.lines)
        for event in self._events(max(after, 0), end):
            if until is not None and until.after(event.seq, event.ts):
                return
            yield event

    def lines_after(self, after: int, upto: int) -> Iterator[bytes]:
        yield b"".join(self.lines[after:upto])

    def at(self, seq: int) -> Event | None:
        if not 1 <= seq <= len(self.lines):
            return None
        return next(self._events(seq - 1, seq))

    def by_key(self, key: str) -> Event | None:
        for event in self.read():
            if event.key == key:
                return event
        return None

    def books(self, until: Point | None = None, *, keys: bool = True, dated: bool | None = None) -> State:
        return folding.fold(self, until)

    def walk(
        self, visit: Callable[[EventLike], None], until: Point | None = None, *, only: str | None = None,
        tail: int | None = None, lines: bool = False, dated: bool | None = None,
    ) -> State:  # fmt: skip
        if lines:
            return folding.fold(self, until, lambda event: visit(line_of(event)))  # type: ignore[arg-type]
        return folding.fold(self, until, visit)

    def vouch(self) -> bool:
        folding.fold(self)
        return False

    def known_good(self) -> bool:
        return False  # its lines can be changed under it (the tests do): every read verifies

    def verify(self) -> VerifyReport:
        return folding.verify(self)

    @contextmanager
    def writing(self, timeout: float | None = None) -> Iterator[MemorySession]:
        if not self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            raise LockTimeout(f"the in-memory log is locked by another writer (waited {timeout:g}s)")
        try:
            yield MemorySession(self)
        finally:
            self._lock.release()

    def follow(self, after: int, stop: float | None = None) -> Iterator[Event]:
        seen = after
        while True:
            with self._grown:
                if not self._grown.wait_for(partial(_longer, self.lines, seen), stop):
                    return
            for event in self.read(seen):
                seen = event.seq
                yield event

    def _appended(self) -> None:
        with self._grown:
            self._grown.notify_all()


def _longer(lines: list[bytes], count: int) -> bool:
    return len(lines) > count


class MemorySession:
    streams = False  # (WriteSession.streams)

    def __init__(self, log: MemoryLog) -> None:
        self.log = log

    def books(self, *, keys: bool = True) -> State:
        return self.log.books()

    def head(self) -> Head:
        return self.log.head()

    def at(self, seq: int) -> Event | None:
        return self.log.at(seq)

    def by_key(self, key: str) -> Event | None:
        return self.log.by_key(key)

    def append(self, events: Sequence[Event]) -> list[Event]:
        lines = seal_chain(self.head(), events)
        self.log.lines.extend(lines)  # one step: all or nothing
        self.log._appended()
        return list(events)

    def append_sealed(self, lines: Iterable[bytes], books: State) -> None:
        data = b"".join(lines)
        seq, prev, ts = self.head()
        checked = [line + b"\n" for _, line in check_lines(data, seq, prev, ts or "")]  # it trusts no caller
        self.log.lines.extend(checked)
        self.log._appended()
