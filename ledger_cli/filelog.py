"""The JSON Lines file as an eventlog.EventLog: an adapter over store.Writer, fold.Reader,
the line lookup and a folder of snapshot blobs beside the log.

This is the first form of issue 9's file store. The application still drives the file
through service.Ledger; this adapter lets the store contract suite hold the file to the
in-memory reference.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ledger_cli import checkpoint
from ledger_cli.eventlog import EMPTY, Head, Snapshot
from ledger_cli.events import Event, as_event
from ledger_cli.fold import Reader
from ledger_cli.lookup import event_at
from ledger_cli.memlog import sealed_chain
from ledger_cli.store import Cursor, LogScan, Writer, open_for_reading
from ledger_cli.when import Point

FOLLOW_POLL = 0.05  # seconds between looks at the file's size while following


class FileLog(Reader):
    def __init__(self, path: str, *, use_cache: bool = True) -> None:
        self.path = os.path.realpath(path)
        self.use_cache = use_cache
        self.snapshots = FileSnapshots(self)

    def head(self) -> Head:
        fd = open_for_reading(self.path)
        if fd is None:
            return EMPTY
        try:
            state = self._fold(fd).state
        finally:
            os.close(fd)
        return Head(state.seq, state.head, state.ts) if state.seq else EMPTY

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

    def at(self, seq: int) -> Event | None:
        fd = open_for_reading(self.path)
        if fd is None:
            return None
        try:
            state = self._fold(fd).state
            return event_at(self.path, fd, seq, self._line_index(fd)) if 1 <= seq <= state.seq else None
        finally:
            os.close(fd)

    def by_key(self, key: str) -> Event | None:
        fd = open_for_reading(self.path)
        if fd is None:
            return None
        try:
            seq = self._fold(fd, need_keys=True).state.keys.get(key)
            return None if seq is None else event_at(self.path, fd, seq, self._line_index(fd))
        finally:
            os.close(fd)

    @contextmanager
    def writing(self, timeout: float) -> Iterator[FileSession]:
        with Writer(self.path, timeout) as writer:
            yield FileSession(self, writer)

    def follow(self, after: int, stop: float | None = None) -> Iterator[Event]:
        seen, quiet_since = after, time.monotonic()
        while True:
            new = False
            for event in self.read(seen):
                seen, new = event.seq, True
                yield event
            if new:
                quiet_since = time.monotonic()
            elif stop is not None and time.monotonic() - quiet_since >= stop:
                return
            time.sleep(FOLLOW_POLL)


class FileSession:
    def __init__(self, log: FileLog, writer: Writer) -> None:
        self.log = log
        self.writer = writer
        if writer.fd < 0:
            self.folded = None
        else:
            self.folded = log._fold(writer.fd, need_keys=True)
            if self.folded.torn:
                writer.quarantine(self.folded.cursor.offset, self.folded.torn)

    def head(self) -> Head:
        state = None if self.folded is None else self.folded.state
        return EMPTY if state is None or not state.seq else Head(state.seq, state.head, state.ts)

    def at(self, seq: int) -> Event | None:
        if not 1 <= seq <= self.head().seq:
            return None
        return event_at(self.log.path, self.writer.fd, seq, self.log._line_index(self.writer.fd))

    def by_key(self, key: str) -> Event | None:
        seq = None if self.folded is None else self.folded.state.keys.get(key)
        return None if seq is None else self.at(seq)

    def append(self, events: Sequence[Event]) -> list[Event]:
        lines = sealed_chain(self.head(), events)  # the whole chain is checked before anything is written
        at = 0 if self.folded is None else self.folded.cursor.offset
        self.writer.append_bytes(at, b"".join(lines))
        self.folded = None if self.writer.fd < 0 else self.log._fold(self.writer.fd, need_keys=True)
        return list(events)


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
