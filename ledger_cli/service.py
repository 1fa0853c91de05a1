"""The application layer: read the log, fold, decide, append; queries for the reports.

This is the only module that puts the domain, the store and the checkpoints together; the
fold itself is fold.Reader, finding an event by seq is lookup's. The clock and the id source are
injected (stamps), so tests can pin them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator

from ledger_cli import checkpoint
from ledger_cli.accel import native
from ledger_cli.domain import (
    Command,
    Deposit,
    Reverse,
    Stamp,
    State,
    Transfer,
    Withdraw,
    apply_move,
    decide,
    evolve,
    reversal_matches,
)
from ledger_cli.errors import LogCorrupt, RuleViolation, StoreError
from ledger_cli.events import (
    DEPOSITED,
    REVERSED,
    TRANSFERRED,
    WITHDRAWN,
    Event,
    EventLike,
    as_event,
    decode_line,
    movement_line,
)
from ledger_cli.fold import Folded, Reader
from ledger_cli.lookup import LineIndex, event_at
from ledger_cli.money import format_amount, money_context
from ledger_cli.stamps import system_clock, uuid7
from ledger_cli.store import CHUNK, Cursor, Writer, open_for_reading
from ledger_cli.streams import warn
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike
    from typing import IO


class VerifyReport:
    """What `verify` found: ok, how many events were good, the head hash, the problems."""

    __slots__ = ("ok", "events", "head", "problems")

    def __init__(self, ok: bool, events: int, head: str, problems: list[str] | None = None) -> None:
        self.ok = ok
        self.events = events
        self.head = head
        self.problems = problems or []


class Ledger(Reader):
    """One log file and the operations on it."""

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        use_cache: bool = True,
        clock: Callable[[], str] = system_clock,
        new_id: Callable[[], str] = uuid7,
    ) -> None:
        # Symlinks resolved: every symlinked name of a log shares its lock, checkpoints and seal.
        self.path = os.path.realpath(os.fspath(path))
        self.use_cache = use_cache
        self.clock = clock
        self.new_id = new_id

    def state(self, until: Point | None = None) -> State:
        """The books after every event up to `until` (all of them when None)."""
        fd = open_for_reading(self.path)
        if fd is None:
            return State()
        try:
            folded = self._fold(fd, until)
        finally:
            os.close(fd)
        self._warn_torn(folded.torn)
        return folded.state

    def walk(
        self,
        visit: Callable[[EventLike], None],
        until: Point | None = None,
        *,
        only: str | None = None,
        tail: int | None = None,
    ) -> State:
        """Fold from the first event (every line verified), calling `visit(event)` in log order
        on each event, or at least on each that touches the account `only` (or a sub-account),
        or at least on the last `tail` events: `visit` must pick what it shows itself."""
        fd = open_for_reading(self.path)
        if fd is None:
            return State()
        try:
            folded = self._fold(fd, until, use_cache=False, on_event=visit, only=only, tail=tail)
        finally:
            os.close(fd)
        self._warn_torn(folded.torn)
        return folded.state

    def verify(self) -> VerifyReport:
        """Check the whole file from its first line; never uses a checkpoint."""
        fd = open_for_reading(self.path)
        if fd is None:
            return VerifyReport(True, 0, State().head)
        reversals: list[Event] = []

        def remember(events: list[EventLike]) -> None:
            reversals.extend(as_event(ev, ev.hash or "") for ev in events if ev.type == REVERSED)

        try:
            folded = self._fold(fd, use_cache=False, on_block=remember)
            index = LineIndex(fd)
            for reversal in reversals:
                original = event_at(self.path, fd, reversal.target or 0, index)
                problem = reversal_matches(reversal, original)
                if problem is not None:
                    raise LogCorrupt(reversal.seq, problem)
        except LogCorrupt as exc:  # every line before the bad one is good
            good = exc.line - 1
            head = event_at(self.path, fd, good).hash or "" if good else State().head
            return VerifyReport(False, good, head, [str(exc)])
        except StoreError as exc:  # not a ledger log, unreadable
            return VerifyReport(False, 0, State().head, [str(exc)])
        finally:
            os.close(fd)
        self._warn_torn(folded.torn)
        return VerifyReport(True, folded.state.seq, folded.state.head)

    # ---- writing ---------------------------------------------------------------------------

    def execute(self, command: Command) -> tuple[Event, bool]:
        """Record `command`; returns the event and whether it is new (False: idempotent retry)."""
        with Writer(self.path) as writer:
            folded = self._begin(writer, need_keys=command.key is not None)
            state = folded.state
            original = None
            if isinstance(command, Reverse) and 1 <= command.target <= state.seq:
                original = event_at(self.path, writer.fd, command.target, self._line_index(writer.fd))
            keyed = None
            if command.key is not None and command.key in state.keys:
                keyed = event_at(self.path, writer.fd, state.keys[command.key], self._line_index(writer.fd))
            stamp = Stamp(ts=self.clock(), id=self.new_id())
            _warn_if_pinned(state.ts, stamp.ts)
            with money_context():
                events = decide(command, state, stamp, original=original, keyed=keyed)
            if not events:
                assert keyed is not None
                return keyed, False
            last_line = writer.append(folded.cursor.offset, events)
            self._after_append(folded, events, last_line, writer.fd)
            if self.use_cache:
                checkpoint.seal(self.path, writer.fd)
            return events[0], True

    def import_commands(self, commands: Iterable[tuple[int, Command]]) -> tuple[int, int, int]:
        """Append a batch all-or-nothing under one lock and one fsync.

        Each command is decided against the state the previous ones left; the first
        refusal raises RuleViolation naming its line and nothing is written. Returns
        (events recorded, records skipped as idempotent retries, first new seq).
        """
        with Writer(self.path) as writer:
            folded = self._begin(writer, need_keys=True)
            state = folded.state
            start = state.seq + 1
            ts = self.clock()
            _warn_if_pinned(state.ts, ts)
            new_id = self.new_id
            batch_keys: dict[str, bytes] = {}  # key -> its line in this batch (smaller than an Event)
            index = self._line_index(writer.fd) if writer.fd >= 0 else None  # for the events of keyed retries
            skipped = 0
            spool = _Spool()
            from ledger_cli.fastcodec import seal as seal_line  # a batch repays msgspec's import

            moves = {Deposit: DEPOSITED, Withdraw: WITHDRAWN, Transfer: TRANSFERRED}
            module = native()
            seal_move = None if module is None else module.seal_move
            event_ts = max(ts, state.ts) if state.ts else ts  # as decide() stamps them
            with money_context():
                for number, command in commands:
                    # The hot path: a new deposit, withdrawal or transfer is checked, applied
                    # and sealed without building an Event (domain.apply_move, events.movement_line).
                    kind = moves.get(type(command))
                    if kind is not None and (command.key is None or command.key not in state.keys):
                        if kind == TRANSFERRED:
                            account, to = command.source, command.to  # type: ignore[union-attr]
                        else:
                            account, to = command.account, None  # type: ignore[union-attr]
                        if apply_move(state, kind, account, to, command.amount):  # type: ignore[union-attr]
                            seq = state.seq + 1
                            fields = (
                                kind, seq, new_id(), event_ts, state.head, account, to,
                                format_amount(command.amount), command.memo, command.key,  # type: ignore[union-attr]
                            )  # fmt: skip
                            done = None if seal_move is None else seal_move(*fields)
                            sealed, digest = movement_line(*fields) if done is None else done
                            spool.write(sealed)
                            state.seq, state.head, state.ts = seq, digest, event_ts
                            if command.key is not None:
                                state.keys[command.key] = seq
                                batch_keys[command.key] = sealed
                            continue
                        # Refused: decide() below raises with check()'s message.
                    keyed = None
                    if command.key is not None and command.key in state.keys:
                        line = batch_keys.get(command.key)
                        seq = state.keys[command.key]
                        if line:
                            keyed = decode_line(line[:-1], seq)
                        else:
                            keyed = event_at(self.path, writer.fd, seq, index)
                    try:
                        events = decide(command, state, Stamp(ts, new_id()), keyed=keyed)
                    except RuleViolation as exc:
                        raise RuleViolation(f"line {number}: {exc}; nothing was imported") from None
                    if not events:
                        skipped += 1
                    for event in events:
                        sealed = seal_line(event)
                        spool.write(sealed)
                        evolve(state, event)
                        if event.key is not None:
                            batch_keys[event.key] = sealed
            if state.seq >= start:
                writer.append_bytes(folded.cursor.offset, spool.chunks())
                folded.torn = b""
                if self.use_cache:
                    checkpoint.seal(self.path, writer.fd)
                if self.use_cache and folded.keys_complete:
                    end = os.fstat(writer.fd).st_size
                    last = end - spool.last_length
                    checkpoint.save(self.path, state, Cursor(end, state.seq, state.head, state.ts, last), head=True)
            spool.close()
            return state.seq - start + 1, skipped, start

    def _begin(self, writer: Writer, *, need_keys: bool) -> Folded:
        """Under the lock: fold what is there and move a torn tail aside."""
        if writer.fd < 0:  # no log yet
            return Folded(State(), Cursor(), b"", True, 0)
        folded = self._fold(writer.fd, need_keys=need_keys)
        if folded.torn:
            writer.quarantine(folded.cursor.offset, folded.torn)
            folded.torn = b""
        return folded

    def _after_append(self, folded: Folded, events: list[Event], last_line: int, fd: int) -> None:
        """Refresh the head checkpoint once enough events piled up since the last one."""
        if not self.use_cache or not folded.keys_complete:
            return
        if events[-1].seq - folded.from_seq < checkpoint.HEAD_REFRESH:
            return
        state = folded.state
        with money_context():
            for event in events:
                evolve(state, event)
        end = os.fstat(fd).st_size
        checkpoint.save(self.path, state, Cursor(end, state.seq, state.head, state.ts, last_line), head=True)


PIN_WARNING = 60  # seconds: a clock this far behind the last event's ts is worth a warning


def _warn_if_pinned(last: str | None, now: str) -> None:
    """ts never decreases, so after an event stamped by a clock far in the future every new
    one is stamped at that moment too: say so (once a command), as the books' times are off."""
    if last is None or last <= now:
        return
    import calendar

    def seconds(ts: str) -> int:
        return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))

    if seconds(last) - seconds(now) >= PIN_WARNING:
        warn(
            f"the last event is stamped {last}, after this machine's clock ({now}): new events are "
            "stamped at that moment until the clock passes it (ts never decreases); was a clock set "
            "far in the future?"
        )


class _Spool:
    """Sealed lines of a batch: in memory up to a limit, then in an unlinked temporary file."""

    LIMIT = 1 << 20

    def __init__(self) -> None:
        self._memory: list[bytes] = []
        self._size = 0
        self._file: IO[bytes] | None = None
        self.last_length = 0

    def write(self, line: bytes) -> None:
        self.last_length = len(line)
        self._memory.append(line)
        self._size += len(line)
        if self._size > self.LIMIT:  # spill what is held, in one write
            if self._file is None:
                import tempfile

                self._file = tempfile.TemporaryFile()
            self._file.write(b"".join(self._memory))
            self._memory = []
            self._size = 0

    def chunks(self) -> Iterator[bytes]:
        if self._file is not None:
            self._file.seek(0)
            while chunk := self._file.read(CHUNK):
                yield chunk
        yield b"".join(self._memory)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
