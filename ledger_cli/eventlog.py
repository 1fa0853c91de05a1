"""The store protocol (issue 9): what the application needs of a log, naming no bytes, offsets,
descriptors or SQL.

A store holds a hash-chained sequence of events. It can say what its head is, and it can
give back verified events in seq order, the event at a seq, and the event that holds an
idempotency key. Writing happens inside a session taken with a lock timeout: in the session
the head, `at` and `by_key` are read under the lock, and a batch is appended all-or-nothing
and durably. `follow` blocks for new events. `snapshots` keeps derived blobs keyed by
(seq, hash), and hands one back only while the log still holds that event.

Implementations: memlog.MemoryLog (the reference) and filelog.FileLog (the JSON Lines file).
Both must pass tests/test_store_contract.py. A PostgreSQL store will subclass that suite.
This is the seam of issue 9. The application (service.Ledger) does not use it yet; it still
drives the file directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol

from ledger_cli.events import GENESIS, Event
from ledger_cli.when import Point


class Head(NamedTuple):
    """The last event of a log: its seq, hash and ts (0, 64 zeros and None when empty)."""

    seq: int
    hash: str
    ts: str | None


EMPTY = Head(0, GENESIS, None)


class Snapshot(NamedTuple):
    seq: int
    hash: str
    data: bytes


class SnapshotStore(Protocol):
    def save(self, seq: int, hash: str, data: bytes) -> None:
        """Keep `data`, derived from the log up to event `seq` whose hash is `hash`."""

    def best(self, until: int | None = None) -> Snapshot | None:
        """The newest snapshot at or before seq `until` whose event the log still holds."""


class WriteSession(Protocol):
    def head(self) -> Head: ...

    def at(self, seq: int) -> Event | None: ...

    def by_key(self, key: str) -> Event | None: ...

    def append(self, events: Sequence[Event]) -> list[Event]:
        """Seal and append `events` (seq, prev and ts continuing the head) all-or-nothing and
        durably; returns them with their hashes. LogCorrupt if they do not continue the head."""


class EventLog(Protocol):
    snapshots: SnapshotStore

    def head(self) -> Head: ...

    def read(self, after: int = 0, until: Point | None = None) -> Iterator[Event]:
        """The verified events after seq `after`, up to and including `until`, in seq order;
        LogCorrupt names the first bad one."""

    def at(self, seq: int) -> Event | None: ...

    def by_key(self, key: str) -> Event | None: ...

    def writing(self, timeout: float) -> AbstractContextManager[WriteSession]:
        """A write session under the store's lock; LockTimeout (exit 4) after `timeout` seconds."""

    def follow(self, after: int, stop: float | None = None) -> Iterator[Event]:
        """The events after seq `after`, waiting for new ones as they are appended; ends after
        `stop` seconds without one (None: never)."""
