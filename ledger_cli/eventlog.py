"""The store protocol: what the application needs of a log, naming no bytes, offsets,
descriptors or SQL.

A store holds a hash-chained sequence of events. It says what its head is, and gives back
verified events in seq order, the event at a seq, the event that holds an idempotency key,
and the books folded from them (`books`, `walk`, `verify`: a store may fold faster than
event by event, from its own snapshots or in C, but the answer is the one `folding` gives
over `read`). Writing happens inside a session taken with a lock timeout: in the session
the books, the head, `at` and `by_key` are read under the lock, and a batch is appended
all-or-nothing and durably. `follow` blocks for new events. `snapshots` keeps derived blobs
keyed by (seq, hash), and hands one back only while the log still holds that event.

A store never prints: what a user should hear of (a torn tail moved aside) goes to `notes`,
which the CLI prints on stderr.

Implementations: memlog.MemoryLog (the reference) and filelog.FileLog (the JSON Lines file).
Both pass tests/test_store_contract.py. A PostgreSQL store will subclass that suite.
"""

from __future__ import annotations

from collections import namedtuple

from ledger_cli.events import GENESIS

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up, which every shell loop pays: only the checker reads it
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from contextlib import AbstractContextManager
    from typing import NamedTuple, Protocol

    from ledger_cli.domain import State
    from ledger_cli.events import Event, EventLike
    from ledger_cli.when import Point

    class Head(NamedTuple):
        """The last event of a log: its seq, hash and ts (0, 64 zeros and None when empty)."""

        seq: int
        hash: str
        ts: str | None

    class Snapshot(NamedTuple):
        seq: int
        hash: str
        data: bytes
else:
    Protocol = object
    Head = namedtuple("Head", "seq hash ts")
    Snapshot = namedtuple("Snapshot", "seq hash data")

EMPTY = Head(0, GENESIS, None)


class VerifyReport:
    """What `verify` found: ok, how many events were good, the head hash, the problems."""

    __slots__ = ("ok", "events", "head", "problems")

    def __init__(self, ok: bool, events: int, head: str, problems: list[str] | None = None) -> None:
        self.ok = ok
        self.events = events
        self.head = head
        self.problems = problems or []


class SnapshotStore(Protocol):
    def save(self, seq: int, hash: str, data: bytes) -> None:
        """Keep `data`, derived from the log up to event `seq` whose hash is `hash`."""

    def best(self, until: int | None = None) -> Snapshot | None:
        """The newest snapshot at or before seq `until` whose event the log still holds."""


class WriteSession(Protocol):
    # Whether append_sealed may be given lines still being decided: nothing it takes is seen
    # by anyone before it returns (a database transaction). A file's readers would see them.
    streams: bool

    def books(self, *, keys: bool = True) -> State:
        """The books at the head, read under the lock (with every idempotency key if `keys`)."""

    def head(self) -> Head: ...

    def at(self, seq: int) -> Event | None: ...

    def by_key(self, key: str) -> Event | None: ...

    def append(self, events: Sequence[Event]) -> list[Event]:
        """Seal and append `events` (seq, prev and ts continuing the head) all-or-nothing and
        durably; returns them with their hashes. LogCorrupt if they do not continue the head."""

    def append_sealed(self, lines: Iterable[bytes], books: State) -> None:
        """Append canonical lines the codec sealed (continuing the head, checked by the
        caller's fold) all-or-nothing and durably; `books` is the state after them (read once
        `lines` is exhausted, so a streaming session's caller may still be moving it)."""


class EventLog(Protocol):
    notes: list[str]

    @property
    def snapshots(self) -> SnapshotStore: ...

    def head(self) -> Head: ...

    def read(self, after: int = 0, until: Point | None = None) -> Iterator[Event]:
        """The verified events after seq `after`, up to and including `until`, in seq order;
        LogCorrupt names the first bad one."""

    def at(self, seq: int) -> Event | None: ...

    def by_key(self, key: str) -> Event | None: ...

    def lines_after(self, after: int, upto: int) -> Iterator[bytes]:
        """The canonical lines of events after..upto, each with its newline, in pieces of any
        size: the same bytes in every store (ledger copy; the caller verified them)."""

    def books(self, until: Point | None = None, *, keys: bool = True, dated: bool | None = None) -> State:
        """The books after every event up to `until` (all of them when None); without `keys`
        its idempotency keys may be left out (for a report that never looks at them); with
        `dated`, its changes per day are all there (for a report by date: books.as_of), and
        with dated=False they may be left out (a report that is not by date)."""

    def walk(
        self, visit: Callable[[EventLike], None], until: Point | None = None, *, only: str | None = None,
        tail: int | None = None, lines: bool = False, dated: bool | None = None,
    ) -> State:  # fmt: skip
        """Fold from the first event, calling `visit` in log order on each event, or at least on
        each that touches `only` (or a sub-account), or at least on the last `tail`; with
        `lines`, on their canonical lines (codec.line_of) instead of the events, one or more at
        a time, joined by newlines (without the last one). `dated` as for books()."""

    def vouch(self) -> bool:
        """Verify every event from the first (LogCorrupt names a bad one) and, where the store
        can, remember that they are good; returns known_good()."""

    def known_good(self) -> bool:
        """Whether every event held was verified since the store last changed, so that a read
        cannot fail half-way (history then streams instead of holding its output back)."""

    def verify(self) -> VerifyReport:
        """Check every event from the first (never from a snapshot), reversals against their targets."""

    def writing(self, timeout: float | None = None) -> AbstractContextManager[WriteSession]:
        """A write session under the store's lock; LockTimeout (exit 4) after `timeout` seconds
        (None: the store's default wait)."""

    def follow(self, after: int, stop: float | None = None) -> Iterator[Event]:
        """The events after seq `after`, waiting for new ones as they are appended; ends after
        `stop` seconds without one (None: never)."""
