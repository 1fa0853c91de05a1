"""The JSON Lines file as an eventlog.EventLog: everything file-, flock-, C- and
checkpoint-specific lives behind this class (the fold in fold.Reader, the lines in store, the
line lookup in lookup, the checkpoints in checkpoint).

The file's own checkpoints (`<log>.cache/`) carry the byte offset of their line as well as
its (seq, hash), so a fold starts from one without a lookup; `snapshots` is the protocol's
store of derived blobs, kept in the same folder and trusted on the same condition (the log
still holds that event).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from ledger_cli import checkpoint
from ledger_cli.books import ensure_days
from ledger_cli.codec import seal_chain
from ledger_cli.domain import State, evolve, reversal_matches
from ledger_cli.errors import LogCorrupt, StoreError
from ledger_cli.eventlog import EMPTY, Head, Snapshot, VerifyReport
from ledger_cli.events import REVERSED, Event, EventLike, as_event
from ledger_cli.fold import Folded, Reader
from ledger_cli.lookup import LineIndex, event_at, line_at, line_start, lines_from
from ledger_cli.money import money_context
from ledger_cli.store import Cursor, LogScan, open_for_reading
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ledger_cli.filewriter import Writer

FOLLOW_POLL = 0.05  # seconds between looks at the file's size while following


class FileLog(Reader):
    """One log file. Every symlinked name of it shares its lock, checkpoints and seal."""

    def __init__(self, path: str, *, use_cache: bool = True) -> None:
        self.path = os.path.realpath(path)
        self.use_cache = use_cache
        self.snapshots = FileSnapshots(self)
        self.notes: list[str] = []

    def head(self) -> Head:
        state = self.books()
        return Head(state.seq, state.head, state.ts) if state.seq else EMPTY

    def books(self, until: Point | None = None, *, keys: bool = True, dated: bool | None = None) -> State:
        fd = open_for_reading(self.path)
        if fd is None:
            return State()
        try:
            folded = self._fold(fd, until, want_keys=keys, want_days=dated is not False)
            if dated and not ensure_days(folded.state):  # a snapshot's: fold it all, days and all
                folded = self._fold(fd, until, want_keys=keys, use_cache=False)
        finally:
            os.close(fd)
        self._warn_torn(folded.torn)
        return folded.state

    def walk(
        self, visit: Callable[[EventLike], None], until: Point | None = None, *, only: str | None = None,
        tail: int | None = None, lines: bool = False, dated: bool | None = None,
    ) -> State:  # fmt: skip
        folded = self._fold_uncached(
            until, on_event=visit, only=only, tail=tail, lines=lines, want_days=dated is not False
        )
        return State() if folded is None else folded.state

    def vouch(self) -> bool:
        """Verify every line from the first (no checkpoint used or written, no keys kept) and
        seal the file if it is whole; LogCorrupt names a bad line. Returns known_good()."""
        return self._fold_uncached(want_keys=False, want_days=False) is None or self.known_good()

    def _fold_uncached(self, until: Point | None = None, **options: Any) -> Folded | None:
        """Fold from the first line without checkpoints (None: no log yet); a whole fold, with
        no torn tail, seals the file: every line was verified just now."""
        fd = open_for_reading(self.path)
        if fd is None:
            return None
        try:
            before = checkpoint.stat_key(fd) if self.use_cache and until is None else None
            folded = self._fold(fd, until, use_cache=False, **options)
            if before is not None and not folded.torn:
                checkpoint.seal(self.path, fd, before)
        finally:
            os.close(fd)
        self._warn_torn(folded.torn)
        return folded

    def known_good(self) -> bool:
        """Sealed: the file is exactly as a writer or a whole verified fold left it."""
        if not self.use_cache:
            return False
        fd = open_for_reading(self.path)
        if fd is None:
            return True
        try:
            return checkpoint.sealed(self.path, fd)
        finally:
            os.close(fd)

    def verify(self) -> VerifyReport:
        """The whole file from its first line, never from a checkpoint; then each reversal
        against its target, found from the nearest line sample (never counting from byte 0)."""
        fd = open_for_reading(self.path)
        if fd is None:
            return VerifyReport(True, 0, EMPTY.hash)
        reversals: list[Event] = []

        def remember(events: list[EventLike]) -> None:
            reversals.extend(as_event(ev, ev.hash or "") for ev in events if ev.type == REVERSED)

        index = LineIndex(fd)
        try:
            folded = self._fold(fd, use_cache=False, on_block=remember, want_keys=False, want_days=False)
            for reversal in reversals:  # once every line is good (as the memory store does)
                problem = reversal_matches(reversal, event_at(self.path, fd, reversal.target or 0, index))
                if problem is not None:
                    raise LogCorrupt(reversal.seq, problem)
        except LogCorrupt as exc:  # every line before the bad one is good
            good = exc.line - 1
            head = event_at(self.path, fd, good, index).hash or "" if good else EMPTY.hash
            return VerifyReport(False, good, head, [str(exc)])
        except StoreError as exc:  # not a ledger log, unreadable
            return VerifyReport(False, 0, EMPTY.hash, [str(exc)])
        finally:
            os.close(fd)
        self._warn_torn(folded.torn)
        return VerifyReport(True, folded.state.seq, folded.state.head)

    def read(self, after: int = 0, until: Point | None = None) -> Iterator[Event]:
        fd = open_for_reading(self.path)
        if fd is None:
            return
        try:
            for _, events, _ in LogScan(self.path, fd, Cursor(), bulk=False).blocks():
                for ev in events:
                    if until is not None and until.after(ev.seq, ev.ts):
                        return
                    if ev.seq > after:
                        yield ev if isinstance(ev, Event) else as_event(ev, ev.hash or "")
        finally:
            os.close(fd)

    def lines_after(self, after: int, upto: int) -> Iterator[bytes]:
        """The lines of events after..upto as they are in the file (each with its newline), in
        pieces; the caller has verified them (ledger copy verifies the whole log first)."""
        fd = open_for_reading(self.path)
        if fd is None or upto <= after:
            if fd is not None:
                os.close(fd)
            return
        try:
            start = line_start(self.path, fd, after + 1, self._line_index(fd))
            yield from lines_from(self.path, fd, start, upto - after)
        finally:
            os.close(fd)

    def lines_at(self, seqs: list[int]) -> list[bytes]:
        """The lines of the events at `seqs` (without newlines), unverified: the caller proves
        them (an export compares each with the line its walk verifies)."""
        fd = open_for_reading(self.path)
        if fd is None:
            raise StoreError(f"{self.path}: the log is missing")
        try:
            index = self._line_index(fd)
            return [line_at(self.path, fd, seq, index) for seq in seqs]
        finally:
            os.close(fd)

    def at(self, seq: int) -> Event | None:
        return self._lookup(lambda state: seq if 1 <= seq <= state.seq else None, keys=False)

    def by_key(self, key: str) -> Event | None:
        return self._lookup(lambda state: state.keys.get(key), keys=True)

    def _lookup(self, pick: Callable[[State], int | None], *, keys: bool) -> Event | None:
        """The event at the seq `pick` chooses from the books (None: no such event)."""
        fd = open_for_reading(self.path)
        if fd is None:
            return None
        try:
            seq = pick(self._fold(fd, need_keys=keys).state)
            return None if seq is None else event_at(self.path, fd, seq, self._line_index(fd))
        finally:
            os.close(fd)

    @contextmanager
    def writing(self, timeout: float | None = None) -> Iterator[FileSession]:
        """Under the lock (None: LEDGER_CLI_LOCK_TIMEOUT's wait)."""
        from ledger_cli.filewriter import Writer  # only writes pay for its import

        with Writer(self.path, timeout, notes=self.notes) as writer:
            yield FileSession(self, writer)

    def follow(self, after: int, stop: float | None = None) -> Iterator[Event]:
        """The events after seq `after`, then each new one as a writer appends it: the file is
        polled from the end of the last line seen, every new line verified (hash, chain, seq,
        ts order) as any read does; a line being written is taken once it is whole."""
        cursor: Cursor | None = None
        quiet_since = time.monotonic()
        while True:
            events, cursor = self.news(after, cursor)
            yield from events
            if events:
                quiet_since = time.monotonic()
            elif stop is not None and time.monotonic() - quiet_since >= stop:
                return
            time.sleep(FOLLOW_POLL)

    def news(self, after: int, cursor: Cursor | None) -> tuple[list[Event], Cursor | None]:
        """The verified events after `cursor` (None: after seq `after`), and the cursor after
        them (None: the file does not reach `after` yet)."""
        fd = open_for_reading(self.path)
        if fd is None:
            return [], cursor
        try:
            if cursor is None:
                cursor = self._cursor_after(fd, after)
            if cursor is None or os.fstat(fd).st_size <= cursor.offset:
                return [], cursor
            scan = LogScan(self.path, fd, cursor, bulk=False)
            found = [
                ev if isinstance(ev, Event) else as_event(ev, ev.hash or "")
                for _, block, _ in scan.blocks()
                for ev in block
            ]
            return found, scan.cursor
        finally:
            os.close(fd)

    def _cursor_after(self, fd: int, after: int) -> Cursor | None:
        """Where the line after event `after` starts, with that event's seq, hash and ts (None:
        the file does not hold it yet)."""
        if after <= 0:
            return Cursor()
        try:
            index = self._line_index(fd)
            event = event_at(self.path, fd, after, index)
            start = line_start(self.path, fd, after + 1, index)
        except StoreError:
            return None
        return Cursor(start, event.seq, event.hash or "", event.ts, 0)


class FileSession:
    """A write session: the lock held, the log folded once (lazily), appends at its verified end."""

    streams = False  # (WriteSession.streams)

    def __init__(self, log: FileLog, writer: Writer) -> None:
        self.log = log
        self.writer = writer
        self._folded: Folded | None = None
        self._keys = False
        self._index: LineIndex | None = None

    def _fold(self, keys: bool) -> Folded:
        """Fold what is there (once; again only to add the keys) and move a torn tail aside."""
        if self._folded is not None and (self._keys or not keys):
            return self._folded
        if self.writer.fd < 0:  # no log yet
            self._folded = Folded(State(), Cursor(), b"", True, 0)
        else:
            self._folded = self.log._fold(self.writer.fd, need_keys=keys)
            if self._folded.torn:
                self.writer.quarantine(self._folded.cursor.offset, self._folded.torn)
                self._folded.torn = b""
        self._keys = keys
        return self._folded

    def books(self, *, keys: bool = True) -> State:
        return self._fold(keys).state

    def head(self) -> Head:
        state = self._fold(False).state
        return Head(state.seq, state.head, state.ts) if state.seq else EMPTY

    def at(self, seq: int) -> Event | None:
        if not 1 <= seq <= self.head().seq:
            return None
        if self._index is None:  # the log only grows under the lock: its samples stay true
            self._index = self.log._line_index(self.writer.fd)
        return event_at(self.log.path, self.writer.fd, seq, self._index)

    def by_key(self, key: str) -> Event | None:
        seq = self._fold(True).state.keys.get(key)
        return None if seq is None else self.at(seq)

    def append(self, events: Sequence[Event]) -> list[Event]:
        folded = self._fold(self._keys)
        lines = seal_chain(self.head(), events)  # the whole chain is checked before anything is written
        data = b"".join(lines)
        at = folded.cursor.offset
        self.writer.append_bytes(at, data)
        state = folded.state
        with money_context():
            for event in events:
                evolve(state, event)
        end = at + len(data)
        folded.cursor = Cursor(end, state.seq, state.head, state.ts, end - len(lines[-1]))
        self._after_append(folded, events[-1].seq - folded.from_seq >= checkpoint.HEAD_REFRESH)
        return list(events)

    def append_sealed(self, lines: Iterable[bytes], books: State) -> None:
        folded = self._fold(self._keys)
        at = folded.cursor.offset
        self.writer.append_bytes(at, iter(lines))
        end = os.fstat(self.writer.fd).st_size
        folded.state = books
        folded.cursor = Cursor(end, books.seq, books.head, books.ts, _last_line_start(self.writer.fd, end))
        self._after_append(folded, True)

    def extend(self, upto: int, fetch: Callable[[int, str], Iterator[bytes] | None]) -> bool:
        """For a copy of another store's lines (pglog's local copy): append the lines `fetch`
        gives after this file's last event, unless the file already reaches event `upto`.
        False, and nothing written, when `fetch` says the other store no longer holds this
        file's last event (discard() it then). The lines are verified by the next fold, as any
        line after a checkpoint is; a long stretch is folded at once, to leave checkpoints."""
        folded = self._fold(False)
        state = folded.state
        if state.seq >= upto:
            return True
        data = fetch(state.seq, state.head)
        if data is None:
            return False
        from ledger_cli.interrupts import aside

        with aside():  # a cache: not the command's write
            self.writer.append_bytes(folded.cursor.offset, data)
        self._folded = None
        if self.log.use_cache:
            checkpoint.seal(self.log.path, self.writer.fd)
            if upto - folded.from_seq >= checkpoint.HEAD_REFRESH:
                self._fold(True)  # a fold with the keys saves the head checkpoint (fold.Reader._fold)
        return True

    def discard(self) -> None:
        """Empty the file and drop its checkpoints (a copy that no longer matches its source)."""
        import shutil

        if self.writer.fd >= 0:
            os.ftruncate(self.writer.fd, 0)
        shutil.rmtree(checkpoint.folder(self.log.path), ignore_errors=True)
        self._folded = None

    def _after_append(self, folded: Folded, refresh: bool) -> None:
        """Seal the grown file, and save a head checkpoint once enough events piled up."""
        if not self.log.use_cache:
            return
        checkpoint.seal(self.log.path, self.writer.fd)
        if refresh and folded.keys_complete and folded.cursor.line_start >= 0:
            checkpoint.save(self.log.path, folded.state, folded.cursor.copy(), head=True)


def _last_line_start(fd: int, end: int) -> int:
    """Where the file's last line starts (-1 if it is longer than we look back)."""
    size = min(end, 64 << 10)  # a valid line is a few KiB at most
    tail = os.pread(fd, size, end - size)
    found = tail.rfind(b"\n", 0, len(tail) - 1)
    if found < 0:
        return 0 if size == end else -1
    return end - size + found + 1


class FileSnapshots:
    """Blobs in `<log>.cache/blob-<seq>-<hash>`, trusted while the log holds that event."""

    def __init__(self, log: FileLog) -> None:
        self.log = log

    def _folder(self) -> str:
        return checkpoint.folder(self.log.path)

    def save(self, seq: int, hash: str, data: bytes) -> None:
        folder = self._folder()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        final = os.path.join(folder, f"blob-{seq:012d}-{hash}")
        temporary = f"{final}.{os.getpid()}"
        with open(temporary, "wb") as out:
            out.write(data)
        os.replace(temporary, final)

    def best(self, until: int | None = None) -> Snapshot | None:
        try:
            names = sorted((n for n in os.listdir(self._folder()) if n.startswith("blob-")), reverse=True)
        except OSError:
            return None
        for name in names:
            _, seq_text, hash = name.split("-", 2)
            if not seq_text.isdigit() or "." in hash:
                continue
            seq = int(seq_text)
            if until is not None and seq > until:
                continue
            event = self.log.at(seq)
            if event is None or event.hash != hash:
                continue
            with open(os.path.join(self._folder(), name), "rb") as source:
                return Snapshot(seq, hash, source.read())
        return None
