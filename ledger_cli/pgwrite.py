"""Writing to a set of books on PostgreSQL: one transaction per command or batch.

A write locks the head row (SELECT … FOR UPDATE under SET LOCAL lock_timeout, exit 4 past
it), brings the local copy of the lines to that head, decides on its books (the same rules as
a file's), inserts the sealed lines and moves the head in the same transaction (a batch by
COPY), notifies followers, commits, then adds the lines to the local copy. Commit order is seq
order, so every reader sees a gapless prefix. A COMMIT whose answer was lost is resolved by
looking up the first new event's id on a new connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import IO, Any

from ledger_cli import interrupts, pgschema
from ledger_cli.codec import seal_chain
from ledger_cli.domain import State
from ledger_cli.errors import LedgerError, LockTimeout, StoreError
from ledger_cli.eventlog import EMPTY, Head
from ledger_cli.events import Event
from ledger_cli.lookup import LineIndex, event_at
from ledger_cli.pgdriver import Connection, is_disconnect
from ledger_cli.store import open_for_reading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ledger_cli.pglog import PgLog

COLUMNS = "(seq, line, id, ts, key, target, prev, hash, prev_ts)"
BY_COPY = 200  # events: more than this go in by COPY rather than INSERT
WAIT_SLICE = 0.2  # seconds: the longest lock wait between two looks for a Ctrl-C


class PgSession:
    """A write: the head row locked in an open transaction, the books from the mirror."""

    streams = True  # (WriteSession.streams)

    def __init__(self, log: PgLog, timeout: float) -> None:
        self.log = log
        self.timeout = timeout
        self.locked = EMPTY
        self.open = False
        self.created = False
        self._lines: tuple[int, LineIndex] | None = None  # the local copy, opened by at()

    def begin(self) -> None:
        conn = self.log.conn()
        conn.run("BEGIN")
        self.open = True
        row = self._lock(conn)
        self.locked = Head(int(row[0]), row[1], row[2]) if row[0] else EMPTY
        self.mirror = self.log._synced(self.locked)

    def _lock(self, conn: Connection) -> tuple[Any, ...]:
        """The head row, locked. The first write creates the store; every write waits while
        another first write holds it uncommitted, then for the head row: exit 4 past the
        timeout. The wait is cut into short lock_timeouts, each under a savepoint, so that a
        Ctrl-C (which Python sees only between them) stops it within a moment."""
        deadline = time.monotonic() + self.timeout
        while True:
            wait = max(0.001, min(WAIT_SLICE, deadline - time.monotonic()))
            conn.run(f"SAVEPOINT waiting; SET LOCAL lock_timeout = '{max(1, int(wait * 1000))}ms'")
            try:
                self.created = self.log.create_in(conn) or self.created
                row = conn.one(f"SELECT seq, hash, ts FROM {self.log.schema}.head FOR UPDATE")
            except LockTimeout:
                if time.monotonic() >= deadline:
                    raise
                conn.run("ROLLBACK TO SAVEPOINT waiting")
                continue
            conn.run("RELEASE SAVEPOINT waiting")
            assert row is not None
            return row

    def end(self) -> None:
        if self._lines is not None:
            os.close(self._lines[0])
            self._lines = None
        if self.open:
            rollback(self.log.conn())
            self.open = False
            if self.created:
                self.log.forget_store()

    def books(self, *, keys: bool = True) -> State:
        state = self.mirror.books(keys=keys, dated=None)
        if (state.seq, state.head) != self.locked[:2]:
            raise StoreError("the local copy of the books moved during a write; run the command again")
        return state

    def head(self) -> Head:
        return self.locked

    def at(self, seq: int) -> Event | None:
        """From the local copy, through one descriptor and line index for the whole write (a
        batch of keyed retries asks for an event per record)."""
        if not 1 <= seq <= self.locked.seq:
            return None
        if self._lines is None:
            fd = open_for_reading(self.mirror.path)
            if fd is None:
                return None
            self._lines = (fd, self.mirror._line_index(fd))
        fd, index = self._lines
        return event_at(self.mirror.path, fd, seq, index)

    def by_key(self, key: str) -> Event | None:
        return self.mirror.by_key(key)

    def append(self, events: Sequence[Event]) -> list[Event]:
        lines = seal_chain(self.locked, events)
        if len(lines) > BY_COPY:
            self._copy_in(lines, None)
        else:
            rows, before = [], self.locked.ts
            for event, line in zip(events, lines):
                rows.append((event.seq, line.rstrip(b"\n").decode(), event.id, event.ts, event.key, event.target,
                             event.prev, event.hash, before))  # fmt: skip
                before = event.ts
            self.log.conn().insert_many(f"INSERT INTO {self.log.schema}.events {COLUMNS} VALUES %s", rows)
        last = events[-1]
        self._commit(events[0].id, Head(last.seq, last.hash or "", last.ts), lambda: iter(lines), None)
        return list(events)

    def append_sealed(self, lines: Iterable[bytes], books: State) -> None:
        """Lines the codec sealed, in pieces of any size, perhaps still being decided (streams):
        kept in a temporary file as they go in, for the local copy once committed."""
        import tempfile

        with tempfile.TemporaryFile() as kept:
            first_id = self._copy_in(lines, kept)
            if first_id is not None:
                self._commit(first_id, Head(books.seq, books.head, books.ts), lambda: _pieces(kept), books)

    def _copy_in(self, pieces: Iterable[bytes], kept: IO[bytes] | None) -> str | None:
        """COPY the lines of `pieces` into events, in rows made while the server takes those
        before (the two overlap: the server is another process); the first one's id."""
        source = _CopyRows(_lines(pieces), self.locked.ts, kept)
        if source.first_id is None:
            return None
        # Into a table this transaction created, the rows go in frozen: the first read after
        # a big copy does not then rewrite every page to set hint bits (and nothing can see
        # the table before COMMIT anyway).
        frozen = " (FREEZE)" if self.created else ""
        copy = f"COPY {self.log.schema}.events {COLUMNS} FROM STDIN{frozen}"
        conn = self.log.conn()
        # A Ctrl-C is held from here and looked for between the pieces (read): raised
        # anywhere else, the driver would report it as a failed COPY and not as itself.
        interrupts.hold()
        if self.created:  # (pgschema.CHAIN: the chain is checked by one join once the rows are in)
            off, on = pgschema.chain_later(self.log.schema)
            conn.run(off)
        try:
            conn.copy_in(copy, source)  # type: ignore[arg-type]
        except LedgerError:
            if source.failure is not None:  # the driver reports it as its own: say what it was
                raise source.failure from None
            raise
        if self.created:
            conn.run(on)
        return source.first_id

    def _commit(self, first_id: str, after: Head, written: Callable[[], Iterator[bytes]], books: State | None) -> None:
        """Move the head past the inserted events, notify, commit; then add them (`written`,
        the lines themselves, and the books after them when known) to the local copy."""
        conn, s = self.log.conn(), self.log.schema
        conn.run(
            f"UPDATE {s}.head SET seq = %s, hash = %s, ts = %s; SELECT pg_notify(%s, %s)",
            (after.seq, after.hash, after.ts, self.log.channel, str(after.seq)),
        )
        interrupts.hold()  # from here Ctrl-C waits: before COMMIT it undoes the write, after it is dropped
        if interrupts.pending():
            raise KeyboardInterrupt
        try:
            conn.run("COMMIT")
            interrupts.durable()
        except LedgerError as error:
            self.open = False
            if not is_disconnect(error) or not self._committed(first_id):
                if self.created:
                    self.log.forget_store()
                raise StoreError(
                    f"{error}; the write was not confirmed and nothing was recorded (run the command again)"
                ) from None
            interrupts.durable()  # it was: found by its id
        self.open = False
        before, self.locked = self.locked, after
        try:
            self.log._synced(after, (before, written, books))
        except (LedgerError, OSError):  # recorded: the next read brings the copy up
            pass

    def _committed(self, first_id: str) -> bool:
        """After a lost COMMIT: whether the event is in the database (on a new connection)."""
        self.log.forget_connection()
        for _ in range(20):
            try:
                row = self.log.conn().one(f"SELECT 1 FROM {self.log.schema}.events WHERE id = %s", (first_id,))
                return row is not None
            except StoreError:
                time.sleep(0.5)
        return False


class _CopyRows:
    """A file-like object whose read() gives the rows of the events of `lines` in COPY's text
    format, made a batch at a time as COPY asks for them. A row's columns are read from its
    line by fastcodec.row_columns alone (a batch decoded at once, the free text skipped): the lines
    were sealed by this process or verified by the caller, and the database checks each one
    against its columns and its hash anyway."""

    BATCH = 200

    def __init__(self, lines: Iterator[bytes], before: str | None, kept: IO[bytes] | None) -> None:
        self.lines = lines
        self.before = before  # the ts of the event before the next one (None before seq 1)
        self.kept = kept  # where the lines go as they are read, when given
        self.failure: BaseException | None = None  # what stopped a read (a rule, Ctrl-C), for the caller
        self.buffer = ""
        self.first_id: str | None = None
        self._fill(1)  # the first row now: its id (and whether there is one)

    def _fill(self, size: int) -> None:
        from ledger_cli.fastcodec import row_columns  # (msgspec: only a batch pays its import)

        while len(self.buffer) < size:
            taken = list(islice(self.lines, self.BATCH))
            if not taken:
                return
            try:
                columns = row_columns(taken)
                texts = [line.decode() for line in taken]
            except ValueError:  # (msgspec's errors are ValueErrors)
                raise StoreError("a line to store is not a sealed event") from None
            if self.first_id is None:
                self.first_id = columns[0].id
            rows, before = [], self.before
            for text, c in zip(texts, columns):
                key, target = c.key, c.target
                rows.append(
                    f"{c.seq}\t{_text(text)}\t{c.id}\t{c.ts}\t{_NULL if key is None else _text(key)}\t"
                    f"{_NULL if target is None else target}\t{c.prev}\t{c.hash}\t"
                    f"{_NULL if before is None else before}\n"
                )
                before = c.ts
            self.before = before
            self.buffer += "".join(rows)
            if self.kept is not None:
                self.kept.write(b"\n".join(taken) + b"\n")

    def read(self, size: int = -1) -> str:
        try:
            if interrupts.pending():
                raise KeyboardInterrupt
            self._fill(size if size > 0 else 1 << 30)
        except BaseException as failure:
            self.failure = failure
            raise
        if size < 0:
            out, self.buffer = self.buffer, ""
        else:
            out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def readline(self, size: int = -1) -> str:  # (not used by COPY; the protocol of a text file)
        return self.read(size)


_NULL = "\\N"
_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    """A value as a column of COPY's text format (backslash, tab, newline and CR escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_SPECIAL)
    return value


def _lines(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The lines (without their newlines) of pieces of a file cut anywhere."""
    carry = b""
    for piece in pieces:
        if not piece:
            continue
        parts = (carry + piece).split(b"\n")
        carry = parts.pop()
        yield from (part for part in parts if part)
    if carry:
        yield carry


def _pieces(kept: IO[bytes]) -> Iterator[bytes]:
    kept.seek(0)
    while piece := kept.read(1 << 20):
        yield piece


def rollback(conn: Connection) -> None:
    try:
        conn.run("ROLLBACK")
    except LedgerError:
        pass
