"""The application layer: read the books, decide, append; for any store (eventlog.EventLog).

This is the only module that puts the domain and a store together. It names no file, byte or
descriptor: the store folds (fast, from its own snapshots), looks events up and appends under
its lock. The clock and the id source are injected (stamps), so tests can pin them. It never
prints: warnings go to `notes`, which the CLI says on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from ledger_cli.accel import native
from ledger_cli.books import as_of, as_of_cut, ensure_days
from ledger_cli.codec import decode_line, movement_line
from ledger_cli.dates import local_day
from ledger_cli.domain import (
    Command,
    Deposit,
    Reverse,
    Stamp,
    State,
    Transfer,
    Withdraw,
    decide,
    evolve,
)
from ledger_cli.errors import InvalidValue, RuleViolation
from ledger_cli.events import DEPOSITED, TRANSFERRED, WITHDRAWN, Event, EventLike
from ledger_cli.money import format_amount, money_context
from ledger_cli.moves import apply_move
from ledger_cli.stamps import system_clock, uuid7
from ledger_cli.when import Point, day_end

TYPE_CHECKING = False
if TYPE_CHECKING:  # the protocol is for the type checker: importing typing costs start-up
    from contextlib import AbstractContextManager
    from typing import IO

    from ledger_cli.eventlog import EventLog, VerifyReport, WriteSession

SPOOL_CHUNK = 1 << 20


class Ledger:
    """The books of one store and the operations on them."""

    def __init__(
        self,
        log: EventLog,
        *,
        clock: Callable[[], str] = system_clock,
        new_id: Callable[[], str] = uuid7,
        timeout: Callable[[], float | None] | None = None,
    ) -> None:
        self.log = log
        self.clock = clock
        self.new_id = new_id
        self.timeout = timeout  # the lock wait, asked for only when writing (None: the store's own)
        self.remapped = 0  # the last import_commands(skip_recorded=True): recorded rows mapped otherwise now

    @property
    def notes(self) -> list[str]:
        """Warnings for the user (the store's and this layer's), to be said by the CLI."""
        return self.log.notes

    def state(self, until: Point | None = None, *, keys: bool = True, dated: bool | None = None) -> State:
        """The books after every event up to `until` (all of them when None); without `keys`
        its idempotency keys may be left out (for a report that never looks at them); `dated`
        for a report by date (books.as_of), dated=False for one that is not (its changes per
        day may then be left out)."""
        return self.log.books(until, keys=keys, dated=dated)

    def as_of(self, day: str, until: Point | None = None) -> State:
        """The books by date at the end of `day` (books.as_of), as known at `until` (None: the
        whole log). Known to the end, they are the books at the day's end plus the later
        entries dated on or before it (books.as_of_cut): two folds from checkpoints, not one
        from the first event."""
        if until is None:
            head = self.log.books(None, keys=False, dated=False)
            if head.offday_known or head.days_loader is not None:
                view = as_of_cut(self.log.books(day_end(day), keys=False, dated=False), head, day)
                if view is not None:
                    return view
            if ensure_days(head):
                return as_of(head, day)
        return as_of(self.log.books(until, keys=False, dated=True), day)

    def walk(
        self,
        visit: Callable[[EventLike], None],
        until: Point | None = None,
        *,
        only: str | None = None,
        tail: int | None = None,
        lines: bool = False,
    ) -> State:
        """Fold from the first event (every line verified), calling `visit(event)` in log order
        on each event, or at least on each that touches the account `only` (or a sub-account),
        or at least on the last `tail` events: `visit` must pick what it shows itself. With
        `lines`, `visit` gets their canonical lines instead, one or more at a time, joined by
        newlines (without the last one). The state it returns may lack its changes per day
        (books.State.days_known): what is walked is shown, not reported by date."""
        return self.log.walk(visit, until, only=only, tail=tail, lines=lines, dated=False)

    def close(self) -> None:
        """Let go of what the store holds open (a database connection); a file store has nothing."""
        close = getattr(self.log, "close", None)
        if close is not None:
            close()

    def follow(self, after: int, stop: float | None = None) -> Iterator[Event]:
        """The events after seq `after`, then each new one as it is appended (store.follow)."""
        return self.log.follow(after, stop)

    def vouch(self) -> bool:
        """Verify every event from the first and remember it where the store can; then known_good()."""
        return self.log.vouch()

    def known_good(self) -> bool:
        """Whether a read cannot fail half-way (every event verified since the last change)."""
        return self.log.known_good()

    def verify(self) -> VerifyReport:
        """Check the whole log from its first event; never uses a snapshot."""
        return self.log.verify()

    def _session(self) -> AbstractContextManager[WriteSession]:
        return self.log.writing(None if self.timeout is None else self.timeout())

    def _warn_if_pinned(self, last: str | None, now: str) -> None:
        note = _pinned(last, now)
        if note is not None:
            self.notes.append(note)

    # ---- writing ---------------------------------------------------------------------------

    def execute(self, command: Command) -> tuple[Event, bool]:
        """Record `command`; returns the event and whether it is new (False: idempotent retry)."""
        with self._session() as session:
            state = session.books(keys=command.key is not None)
            original = None
            if isinstance(command, Reverse) and 1 <= command.target <= state.seq:
                original = session.at(command.target)
            keyed = None
            if command.key is not None and command.key in state.keys:
                keyed = session.at(state.keys[command.key])
            stamp = Stamp(ts=self.clock(), id=self.new_id())
            self._warn_if_pinned(state.ts, stamp.ts)
            with money_context():
                events = decide(command, state, stamp, original=original, keyed=keyed)
            if not events:
                assert keyed is not None
                return keyed, False
            session.append(events)
            return events[0], True

    def import_commands(
        self, commands: Iterable[tuple[int, Command]], *, skip_recorded: bool = False
    ) -> tuple[int, int, int]:
        """Append a batch all-or-nothing under one lock and one durable write.

        Each command is decided against the state the previous ones left; the first
        refusal raises RuleViolation naming its line and nothing is written. Returns
        (events recorded, records skipped as idempotent retries, first new seq). With
        `skip_recorded` (a bank statement), a record whose key is recorded is skipped even if
        its payload now differs; self.remapped counts those. A store
        whose write is one transaction (session.streams) takes the lines while they are
        decided, so that the server checks some while the rest are decided; a file's are
        spooled first and written at once.
        """
        with self._session() as session:
            state = session.books(keys=True)
            start = state.seq + 1
            skipped = [0, 0]
            with money_context():
                lines = self._sealed(commands, session, state, skipped, skip_recorded)
                if session.streams:
                    session.append_sealed(lines, state)
                else:
                    spool = _Spool()
                    try:
                        for line in lines:
                            spool.write(line)
                        if state.seq >= start:
                            session.append_sealed(spool.chunks(), state)
                    finally:
                        spool.close()
            self.remapped = skipped[1]
            return state.seq - start + 1, skipped[0], start

    def _sealed(
        self,
        commands: Iterable[tuple[int, Command]],
        session: WriteSession,
        state: State,
        skipped: list[int],
        skip_recorded: bool = False,
    ) -> Iterator[bytes]:
        """The sealed line of each event the batch records, deciding each command as it comes
        (`state` moves with them; `skipped` counts the idempotent retries)."""
        ts = self.clock()
        today = local_day(ts)
        self._warn_if_pinned(state.ts, ts)
        new_id = self.new_id
        batch_keys: dict[str, bytes] = {}  # key -> its line in this batch (smaller than an Event)
        from ledger_cli.fastcodec import seal as seal_line  # a batch repays msgspec's import

        moves = {Deposit: DEPOSITED, Withdraw: WITHDRAWN, Transfer: TRANSFERRED}
        module = native()
        seal_move = None if module is None else module.seal_move
        event_ts = max(ts, state.ts) if state.ts else ts  # as decide() stamps them
        for number, command in commands:
            # The hot path: a new deposit, withdrawal or transfer is checked, applied and
            # sealed without building an Event (domain.apply_move, codec.movement_line).
            kind = moves.get(type(command))
            if kind is not None and (command.key is None or command.key not in state.keys):
                if kind == TRANSFERRED:
                    account, to = command.source, command.to  # type: ignore[union-attr]
                else:
                    account, to = command.account, None  # type: ignore[union-attr]
                date = command.date or today
                if date > today:
                    raise InvalidValue(f"line {number}: invalid date {date}: it is after today ({today})")
                if apply_move(state, kind, account, to, command.amount, date):  # type: ignore[union-attr]
                    seq = state.seq + 1
                    fields = (
                        kind, seq, new_id(), event_ts, state.head, account, to,
                        format_amount(command.amount), command.memo, command.key, date,  # type: ignore[union-attr]
                    )  # fmt: skip
                    done = None if seal_move is None else seal_move(*fields)
                    sealed, digest = movement_line(*fields) if done is None else done
                    state.seq, state.head, state.ts = seq, digest, event_ts
                    if command.key is not None:
                        state.keys[command.key] = seq
                        batch_keys[command.key] = sealed
                    yield sealed
                    continue
                # Refused: decide() below raises with check()'s message.
            keyed = None
            if command.key is not None and command.key in state.keys:
                line = batch_keys.get(command.key)
                seq = state.keys[command.key]
                keyed = decode_line(line[:-1], seq) if line else session.at(seq)
            try:
                events = decide(command, state, Stamp(ts, new_id(), today), keyed=keyed)
            except RuleViolation as exc:
                if skip_recorded and keyed is not None:  # recorded before, mapped otherwise now
                    skipped[0] += 1
                    skipped[1] += 1
                    continue
                raise RuleViolation(f"line {number}: {exc}; nothing was imported") from None
            except InvalidValue as exc:
                raise InvalidValue(f"line {number}: {exc}; nothing was imported") from None
            if not events:
                skipped[0] += 1
            for event in events:
                sealed = seal_line(event)
                evolve(state, event)
                if event.key is not None:
                    batch_keys[event.key] = sealed
                yield sealed


PIN_WARNING = 60  # seconds: a clock this far behind the last event's ts is worth a warning


def _pinned(last: str | None, now: str) -> str | None:
    """ts never decreases, so after an event stamped by a clock far in the future every new
    one is stamped at that moment too: say so (once a command), as the books' times are off."""
    if last is None or last <= now:
        return None
    import calendar

    def seconds(ts: str) -> int:
        return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))

    if seconds(last) - seconds(now) < PIN_WARNING:
        return None
    return (
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

    def write(self, line: bytes) -> None:
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
            while chunk := self._file.read(SPOOL_CHUNK):
                yield chunk
        yield b"".join(self._memory)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
