"""A set of books on PostgreSQL as an eventlog.EventLog (contract section 8).

The database is the truth: each event's canonical line in `events`, checked by the database
itself (pgschema), writers serialised on the `head` row. Reading folds lines with the same
verifier and C fold as the file store, on a local copy of the lines: a mirror file per store
(in the user's cache folder, named by the store's id) that a read brings up to the database's
head before it folds, after checking that the database still holds the mirror's last event.
So a warm read costs one query and the file store's warm fold, and every checkpoint, report by
date and history format works unchanged. `--no-cache` and `verify` never use the mirror: they
copy every line out of the database into an unlinked temporary file and check that.

Writing is pgwrite's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from ledger_cli import pgschema
from ledger_cli.domain import State
from ledger_cli.errors import LogCorrupt, StoreError
from ledger_cli.eventlog import EMPTY, Head, VerifyReport
from ledger_cli.events import Event, EventLike
from ledger_cli.filelog import FileLog
from ledger_cli.linefiles import CHANGED, ends_alike, first_unlike, last_line_head
from ledger_cli.pgdriver import Connection, search_path_schema
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ledger_cli.eventlog import SnapshotStore
    from ledger_cli.pgwrite import PgSession

FOLLOW_WAKE = 5.0  # seconds between looks when no notification comes (the NOTIFY is only a wake-up)
# CSV with a quote and a delimiter no canonical line holds: the lines come out as their bytes
_CSV = "(FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"


# A write's own: the head before it, its lines (each call gives them again), the books after.
Known = tuple[Head, Callable[[], Iterator[bytes]], "State | None"]


def books_zone() -> str:
    """The zone to record for a new store's books: TZ, else what /etc/localtime names."""
    tz = os.environ.get("TZ")
    if tz:
        return tz
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    return target[target.index(marker) + len(marker) :] if marker in target else "UTC"


class PgLog:
    """The books in one schema of a PostgreSQL database."""

    def __init__(self, uri: str, *, use_cache: bool = True) -> None:
        self.uri = uri
        self.use_cache = use_cache
        self.notes: list[str] = []
        self.schema = pgschema.ident(search_path_schema(uri) or pgschema.DEFAULT_SCHEMA)
        self._local = threading.local()  # a connection per thread
        self._store_id: str | None = None
        self._mirror: FileLog | None = None
        self._spool: tuple[int, str, FileLog, int] | None = None  # (seq, hash, log, fd)

    # ---- the connection and the store ------------------------------------------------------

    def conn(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = Connection(self.uri)
            if self._store_id is None:
                self._read_meta()
        return conn

    def close(self) -> None:
        """Let go of this thread's connection and any copy of the lines (the command is done)."""
        self.forget_connection()
        if self._spool is not None:
            os.close(self._spool[3])
            self._spool = None

    def forget_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def _read_meta(self) -> bool:
        """Read the store's id and take its books' time zone (the dates of the books are in it)."""
        conn, s = self.conn(), self.schema
        if not self._exists(conn):
            return False
        row = conn.one(f"SELECT store_id, zone, schema_version FROM {s}.meta")
        if row is None:
            raise StoreError(f"the PostgreSQL schema {s} holds no ledger store (its meta row is missing)")
        store_id, zone, version = row
        if version > pgschema.SCHEMA_VERSION:
            raise StoreError(f"the store in schema {s} is of a newer version ({version}): upgrade ledger-cli")
        self._store_id = store_id
        if os.environ.get("TZ") != zone:
            os.environ["TZ"] = zone
            time.tzset()
        return True

    def _exists(self, conn: Connection) -> bool:
        """Whether the schema holds a store (an MVCC read of the catalog: it sees a store that
        another writer created while this one waited for it)."""
        found = "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = 'meta'"
        return conn.one(found, (self.schema,)) is not None

    def create_in(self, conn: Connection) -> bool:
        """Inside a write's transaction: create the store unless it exists (another first
        writer waits on the advisory lock, then finds it). The creation commits with the first
        event, or rolls back with a refused one: a refused write leaves no store behind.
        Whether this transaction created it."""
        conn.run("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ledger-cli {self.schema}",))
        created = not self._exists(conn)
        if created:
            conn.run(pgschema.ddl(self.schema, books_zone()))
        if created or self._store_id is None:
            self._read_meta()
        return created

    def forget_store(self) -> None:
        """The store this write created was rolled back with it."""
        self._store_id, self._mirror = None, None

    def _db_head(self) -> Head:
        self.conn()
        if self._store_id is None and not self._read_meta():
            return EMPTY
        row = self.conn().one(f"SELECT seq, hash, ts FROM {self.schema}.head")
        return EMPTY if row is None or not row[0] else Head(int(row[0]), row[1], row[2])

    # ---- the lines -------------------------------------------------------------------------

    def _copy_lines(self, after: int, sink: IO[bytes]) -> None:
        self.conn().copy_out(
            f"COPY (SELECT line FROM {self.schema}.events WHERE seq > {int(after)} ORDER BY seq) TO STDOUT {_CSV}",
            sink,
        )

    def _mirror_log(self) -> FileLog:
        if self._mirror is None:
            from ledger_cli.config import cache_folder

            assert self._store_id is not None
            folder = os.path.join(cache_folder(), "postgres")
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self._mirror = FileLog(os.path.join(folder, f"{self._store_id}.jsonl"))
        return self._mirror

    def _synced(self, head: Head | None = None, known: Known | None = None) -> FileLog:
        """The mirror, holding every event up to `head` (the database's head when None).
        `known`: a head, the lines after it up to `head` (a write's own, just committed) and
        perhaps the books after them, taken instead of the database's lines (and a fold of
        them) when the mirror ends at that head."""
        if head is None:
            head = self._db_head()
        if self._store_id is None:
            return self._empty()
        mirror = self._mirror_log()
        last = last_line_head(mirror.path)
        if last is not None and last[:2] == head[:2]:
            return mirror
        from ledger_cli.interrupts import aside

        with aside(), mirror.writing() as session:  # a cache: not the command's write
            ahead = last is not None and last[0] > head.seq and not self._holds(last[0], last[1])
            fetch = self._fetch_after
            if known is not None:
                after, written, books = known
                if books is not None and (last or EMPTY)[:2] == after[:2]:
                    session.books(keys=True)  # (so that the head checkpoint keeps every key)
                    session.append_sealed(written(), books)
                    return mirror

                def fetch(seq: int, digest: str) -> Iterator[bytes] | None:
                    if (seq, digest) == after[:2]:
                        return written()
                    return self._fetch_after(seq, digest)

            if ahead or not session.extend(head.seq, fetch):
                self.notes.append(f"the local copy of {self.schema} no longer matched the database: made again")
                session.discard()
                if not session.extend(head.seq, self._fetch_after):  # pragma: no cover (a race with tampering)
                    raise StoreError("the database changed while it was read; run the command again")
        return mirror

    def _holds(self, seq: int, digest: str) -> bool:
        """Whether the database holds event `seq` with hash `digest`."""
        row = self.conn().one(f"SELECT hash FROM {self.schema}.events WHERE seq = %s", (seq,))
        return row is not None and row[0] == digest

    def _fetch_after(self, seq: int, digest: str) -> Iterator[bytes] | None:
        """The lines after event `seq` (whose hash the mirror says is `digest`), or None when the
        database does not hold that event any more."""
        if seq and not self._holds(seq, digest):
            return None
        import tempfile

        spool = tempfile.TemporaryFile()
        self._copy_lines(seq, spool)
        spool.seek(0)
        return _pieces(spool)

    def _empty(self) -> FileLog:
        """A FileLog of no events (a store not yet created)."""
        return FileLog(os.path.join("/nonexistent", f".ledger-cli-empty-{os.getpid()}", "none.jsonl"))

    def _view(self) -> FileLog:
        """Where reads fold: the mirror, or with --no-cache the database's own lines."""
        if self.use_cache:
            return self._synced()
        self._db_head()
        if self._store_id is None:
            return self._empty()
        spooled = self._spooled()  # every time: nothing read before is trusted
        changed = self._unlike_the_copy(spooled.path)
        if changed is not None:
            raise LogCorrupt(changed, CHANGED)
        return spooled

    def _spooled(self) -> FileLog:
        """Every line of the database in an unlinked file, read as a FileLog without checkpoints."""
        import tempfile

        if self._spool is not None:
            os.close(self._spool[3])
        spool = tempfile.TemporaryFile()
        self._copy_lines(0, spool)
        spool.flush()
        fd = os.dup(spool.fileno())
        spool.close()
        log = FileLog(f"/proc/self/fd/{fd}", use_cache=False)
        log.path = f"/proc/self/fd/{fd}"  # (realpath names the deleted file)
        last = last_line_head(log.path)
        self._spool = (last[0] if last else 0, last[1] if last else EMPTY.hash, log, fd)
        return log

    def _unlike_the_copy(self, lines: str) -> int | None:
        """The first seq where the database's lines (the file `lines`) differ from the copy
        this machine made of them before, or None (no copy, or one a prefix of the other). A
        chain edited and hashed again verifies by itself: every machine that read the books
        still holds what they said, as every clone of a git repository does."""
        if self._store_id is None:
            return None
        copy = self._mirror_log().path
        if ends_alike(lines, copy):
            return None
        return first_unlike(lines, copy)

    # ---- eventlog.EventLog ----------------------------------------------------------------

    @property
    def snapshots(self) -> SnapshotStore:
        """Derived blobs, kept beside the local copy (they hold nothing the database lacks)."""
        return self._synced().snapshots

    def head(self) -> Head:
        return self._view().head()

    def read(self, after: int = 0, until: Point | None = None) -> Iterator[Event]:
        return self._view().read(after, until)

    def at(self, seq: int) -> Event | None:
        return self._view().at(seq)

    def lines_after(self, after: int, upto: int) -> Iterator[bytes]:
        """The lines as the database holds them (from the copy verify() just made, if any)."""
        if self._spool is not None and self._spool[0] >= upto:
            yield from self._spool[2].lines_after(after, upto)
            return
        import tempfile

        with tempfile.TemporaryFile() as spool:
            self.conn().copy_out(
                f"COPY (SELECT line FROM {self.schema}.events WHERE seq > {int(after)} AND seq <= {int(upto)} "
                f"ORDER BY seq) TO STDOUT {_CSV}",
                spool,
            )
            spool.seek(0)
            while piece := spool.read(1 << 20):
                yield piece

    def by_key(self, key: str) -> Event | None:
        return self._view().by_key(key)

    def books(self, until: Point | None = None, *, keys: bool = True, dated: bool | None = None) -> State:
        return self._view().books(until, keys=keys, dated=dated)

    def walk(
        self, visit: Callable[[EventLike], None], until: Point | None = None, *, only: str | None = None,
        tail: int | None = None, lines: bool = False, dated: bool | None = None,
    ) -> State:  # fmt: skip
        return self._view().walk(visit, until, only=only, tail=tail, lines=lines, dated=dated)

    def vouch(self) -> bool:
        return self._view().vouch()

    def known_good(self) -> bool:
        return self.use_cache and self._view().known_good()

    def verify(self) -> VerifyReport:
        """Every line the database holds, checked as a file's are; then that the head row ends
        that chain and that the database's own checks are all still there and enabled."""
        head = self._db_head()
        if self._store_id is None:
            return VerifyReport(True, 0, EMPTY.hash)
        spooled = self._spooled()
        report = spooled.verify()
        changed = self._unlike_the_copy(spooled.path) if report.ok else None
        if changed is not None:
            report.ok = False
            report.problems.append(f"line {changed}: {CHANGED}")
        if report.ok and head[:2] != (report.events, report.head):
            report.ok = False
            report.problems.append(
                f"the head row says seq {head.seq} ({head.hash[:12]}…), but the events end at seq {report.events}"
            )
        found = self.conn().run(pgschema.problems_sql(self.schema))
        said = pgschema.missing([(str(k), str(n), bool(e)) for k, n, e in found])
        if said:
            report.ok = False
            report.problems.extend(said)
        return report

    @contextmanager
    def writing(self, timeout: float | None = None) -> Iterator[PgSession]:
        from ledger_cli.config import lock_timeout

        self.conn()
        from ledger_cli import interrupts
        from ledger_cli.pgwrite import PgSession

        session = PgSession(self, lock_timeout() if timeout is None else timeout)
        interrupts.writing()  # from here an interrupt says "nothing was recorded"
        try:
            session.begin()
            yield session
        finally:
            session.end()

    def follow(self, after: int, stop: float | None = None) -> Iterator[Event]:
        """LISTEN first (so nothing slips between), catch up from `after`, then wake on each
        NOTIFY, or every few seconds without one, and fetch what is new: the notification is
        only a wake-up, the events come from the lines (through the local copy)."""
        from ledger_cli.store import Cursor

        listener = Connection(self.uri)
        try:
            listener.run(f"LISTEN {self.channel}")
            cursor: Cursor | None = None
            quiet_since = time.monotonic()
            while True:
                events, cursor = self._synced().news(after, cursor)
                yield from events
                if events:
                    quiet_since = time.monotonic()
                    continue
                if stop is not None and time.monotonic() - quiet_since >= stop:
                    return
                wait = FOLLOW_WAKE if stop is None else max(0.01, min(FOLLOW_WAKE, stop))
                listener.wait(wait)
        finally:
            listener.close()

    @property
    def channel(self) -> str:
        return f"ledger_{self.schema}"

    def clock(self) -> str:
        """The server's clock, read now (in a write: after the head's lock is held)."""
        row = self.conn().one(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        assert row is not None
        return str(row[0])


def _pieces(source: IO[bytes]) -> Iterator[bytes]:
    try:
        while piece := source.read(1 << 20):
            yield piece
    finally:
        source.close()
