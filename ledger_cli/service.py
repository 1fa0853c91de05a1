"""The application layer: read the log, fold, decide, append; queries for the reports.

This is the only module that puts the domain, the store and the checkpoints together.
The clock and the id source are injected, so tests can pin them.
"""

from __future__ import annotations

import fcntl
import os
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

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
    apply_block,
    apply_move,
    apply_summary,
    check,
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
    verified_event,
)
from ledger_cli.money import format_amount, money_context
from ledger_cli.store import CHUNK, Cursor, LogScan, Writer, check_lines, open_for_reading
from ledger_cli.streams import warn
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike
    from typing import IO

    from ledger_cli.fastcodec import Helper


def system_clock() -> str:
    """Now, in the log's ts form (UTC, microseconds, Z), without importing datetime."""
    now = time.time_ns() // 1000
    seconds, micros = divmod(now, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_random = ""  # hex digits from os.urandom for ids, drawn 4 KiB at a time; the first _taken are used
_taken = 0
_stamp = [-1, ""]  # the last millisecond seen, and its 48 bits as "xxxxxxxx-xxxx-7"


def uuid7() -> str:
    """A time-ordered UUID (version 7) from the clock and os.urandom, without importing uuid.

    Random digits are drawn from os.urandom 4 KiB at a time, and the time part is formatted
    once per millisecond: a batch import needs one id per event.
    """
    global _random, _taken
    taken = _taken
    if taken + 19 > len(_random):
        _random, taken = os.urandom(4096).hex(), 0
    _taken = taken + 19
    now = time.time_ns() // 1_000_000
    if now != _stamp[0]:
        text = f"{now & 0xFFFFFFFFFFFF:012x}"
        _stamp[0], _stamp[1] = now, f"{text[:8]}-{text[8:]}-7"
    bits = _random[taken : taken + 19]
    # 48 bits of milliseconds, version 7, 12 random bits, the RFC 4122 variant, 62 random bits.
    return f"{_stamp[1]}{bits[:3]}-{_VARIANT[bits[3]]}{bits[4:7]}-{bits[7:]}"


class Folded:
    """The books at a point: the state, where in the file it ends, any torn tail seen."""

    __slots__ = ("state", "cursor", "torn", "keys_complete", "from_seq")

    def __init__(self, state: State, cursor: Cursor, torn: bytes, keys_complete: bool, from_seq: int) -> None:
        self.state = state
        self.cursor = cursor
        self.torn = torn
        self.keys_complete = keys_complete
        self.from_seq = from_seq  # the checkpoint the fold started from (0: the first line)


class VerifyReport:
    """What `verify` found: ok, how many events were good, the head hash, the problems."""

    __slots__ = ("ok", "events", "head", "problems")

    def __init__(self, ok: bool, events: int, head: str, problems: list[str] | None = None) -> None:
        self.ok = ok
        self.events = events
        self.head = head
        self.problems = problems or []


class Ledger:
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

    # ---- reading ---------------------------------------------------------------------------

    @staticmethod
    def _segments(
        events: list[EventLike], lines: list[bytes], offset: int, state: State, caching: bool, from_seq: int
    ) -> Iterator[tuple[list[EventLike], Cursor | None]]:
        """Cut a block where snapshots are due: (events, where a snapshot goes after them)."""
        every = max(checkpoint.EVERY, len(state.balances))
        if not caching or not events:
            yield events, None
            return
        first = events[0].seq
        start = 0
        due = max(-(-first // every) * every, from_seq + 1)
        while due <= events[-1].seq:
            if due % every == 0:
                index = due - first + 1
                end = offset + sum(len(line) + 1 for line in lines[:index])
                after = events[index - 1]
                yield (
                    events[start:index],
                    Cursor(end, after.seq, after.hash or "", after.ts, end - len(lines[index - 1]) - 1),
                )
                start = index
            due = (due // every + 1) * every
        if start < len(events):
            yield events[start:], None

    def _fold(
        self,
        fd: int,
        until: Point | None = None,
        *,
        need_keys: bool = False,
        use_cache: bool | None = None,
        on_event: Callable[[EventLike], None] | None = None,
        only: str | None = None,
        tail: int | None = None,
        on_block: Callable[[list[EventLike]], None] | None = None,
        state: State | None = None,
    ) -> Folded:
        """Fold the log into `state` (a new State, or the newest usable checkpoint's).

        `on_event` sees the events in order (for history): every one, or with the extension
        only those that touch the account `only` (or a sub-account) and every line it hands
        to Python; with `tail`, only the last `tail` of those. `on_block` sees every block of
        applied events. Without the extension, long reads fork a helper that verifies the far
        part of the file on the other core while this process folds.
        """
        caching = self.use_cache if use_cache is None else use_cache
        stat_before = checkpoint.stat_key(fd) if caching else None
        start = checkpoint.best(self.path, fd, until, need_keys=need_keys) if caching else None
        if start is not None:
            state, cursor, keys_complete = start
        else:
            state, cursor, keys_complete = (state or State()), Cursor(), True
        from_seq = cursor.seq
        native = native_fold()
        if native is not None:
            scan = LogScan(self.path, fd, cursor, bulk=False)
            seen = None if on_event is None else _Seen(on_event, only, tail)
            folded, stopped = self._consume_native(native, scan, state, until, on_block, seen, caching, from_seq)
        else:
            # A long uncached, unbounded read forks a helper for the far half of the file.
            helper = _start_helper(fd, cursor) if on_event is None and until is None and not caching else None
            # A bounded read from a checkpoint folds at most a checkpoint interval: too few lines
            # to repay msgspec's import, so it decodes with the standard library.
            bulk = False if until is not None and start is not None else None
            scan = LogScan(self.path, fd, cursor, bulk=bulk, stop=helper.start if helper else None)
            try:
                folded = self._consume(scan, state, until, on_event, on_block, caching, from_seq)
            except BaseException:
                if helper is not None:
                    helper.cancel()
                raise
            if helper is not None:
                scan = self._take_helper(helper, fd, state)
                folded = self._consume(scan, state, None, None, on_block, caching, from_seq)
            stopped = folded.torn == b"" and folded.cursor.offset != scan.cursor.offset
        if stopped:
            return Folded(folded.state, folded.cursor, b"", keys_complete, from_seq)  # stopped at a bound
        state = folded.state
        if caching and keys_complete and state.seq - from_seq >= checkpoint.HEAD_REFRESH:
            checkpoint.save(self.path, state, scan.cursor, head=True)
        if caching and start is None and not scan.torn:
            checkpoint.seal(self.path, fd, stat_before)  # every line was verified just now
        return Folded(state, scan.cursor.copy(), scan.torn, keys_complete, from_seq)

    def _consume(
        self,
        scan: LogScan,
        state: State,
        until: Point | None,
        on_event: Callable[[EventLike], None] | None,
        on_block: Callable[[list[EventLike]], None] | None,
        caching: bool,
        from_seq: int,
    ) -> Folded:
        """Apply the scan's blocks to `state`, up to `until`; LogCorrupt on a broken rule.

        With `caching`, a snapshot is saved after every event whose seq is a multiple of the
        interval (at least EVERY events, and at least one per account), so a bounded read
        later folds less than one interval.
        """
        with money_context():
            for offset, events, lines in scan.blocks():
                count = len(events) if until is None else _within(events, until)
                applied = events if count == len(events) else events[:count]
                if on_event is None:
                    for part, end in self._segments(applied, lines, offset, state, caching, from_seq):
                        failed = apply_block(state, part)
                        if failed is not None:
                            raise LogCorrupt(part[failed[0]].seq, failed[1])
                        if end is not None:
                            checkpoint.save(self.path, state, end, head=False)
                else:
                    for ev in applied:
                        problem = check(state, ev)
                        if problem is not None:
                            raise LogCorrupt(ev.seq, problem)
                        evolve(state, ev)
                        on_event(ev)
                if on_block is not None:
                    on_block(applied)
                if count < len(events):  # the bound lies inside this block
                    return Folded(state, _end_of(offset, lines, count, state), b"", True, from_seq)
        return Folded(state, scan.cursor.copy(), scan.torn, True, from_seq)

    def _consume_native(
        self,
        fold: NativeFold,
        scan: LogScan,
        state: State,
        until: Point | None,
        on_block: Callable[[list[EventLike]], None] | None,
        seen: _Seen | None,
        caching: bool,
        from_seq: int,
    ) -> tuple[Folded, bool]:
        """_consume() with the C extension: (folded, whether it stopped at `until`).

        The extension applies the verified deposits, withdrawals, transfers, opens and closes
        it can vouch for, and hands every other line to the Python reader here, one at a
        time: reversals, anything in an unusual form (an escape in a string), and every line
        that is wrong, so that the error names it exactly as the Python path does.
        `on_block` sees the events handled here, which include every reversal.
        """
        bound_seq = until.seq if until is not None and until.seq is not None else -1
        bound_ts = until.ts if until is not None and until.seq is None else None
        cursor = scan.cursor
        balances, opened, keys = state.balances, state.open, state.keys

        starts = None if seen is None else seen.starts
        only = None if seen is None else seen.only
        # The extension keeps the balances in its own books during this fold (named by the
        # token) and writes them back to state.balances on sync: before Python reads them.
        token = object()
        sync = native().sync  # type: ignore[union-attr]

        def at_bound() -> tuple[Folded, bool]:
            sync(token)
            if seen is not None:
                seen.finish()
            return Folded(state, cursor.copy(), b"", True, from_seq), True

        if 0 <= bound_seq <= state.seq:
            return at_bound()
        with money_context():
            for offset, block in scan.whole_blocks():
                pos = 0
                size = len(block)
                while pos < size:
                    every = max(checkpoint.EVERY, len(balances))
                    due = (state.seq // every + 1) * every if caching else -1
                    stop = due if bound_seq < 0 or 0 <= due < bound_seq else bound_seq
                    code, pos, seq, head, ts, line_start = fold(
                        block, pos, state.seq, state.head, state.ts or "", balances, opened, keys, stop, bound_ts,
                        token, starts, only,
                    )  # fmt: skip
                    if seen is not None:
                        seen.lines(block)
                    if line_start >= 0:  # it applied lines
                        state.seq, state.head, state.ts = seq, head, ts
                        cursor.offset, cursor.seq, cursor.head, cursor.ts = offset + pos, seq, head, ts
                        cursor.line_start = offset + line_start
                    if code == _HANDOFF:
                        end = block.index(b"\n", pos) + 1
                        ev, _ = next(check_lines(block[pos:end], state.seq, state.head, state.ts or ""))
                        if until is not None and until.after(ev.seq, ev.ts):
                            return at_bound()
                        sync(token, (ev.account, ev.to))  # Python reads and changes these two
                        failed = apply_block(state, [ev])
                        if failed is not None:
                            raise LogCorrupt(ev.seq, failed[1])
                        if on_block is not None:
                            on_block([ev])
                        if seen is not None:
                            seen.add(ev)
                        cursor.offset, cursor.line_start = offset + end, offset + pos
                        cursor.seq, cursor.head, cursor.ts = state.seq, state.head, state.ts
                        pos = end
                    elif code == _DONE:
                        break
                    elif state.seq != stop:  # it stopped before a line after `until`
                        return at_bound()
                    if caching and state.seq == due:
                        sync(token)
                        checkpoint.save(self.path, state, cursor.copy(), head=False)
                    if state.seq == bound_seq:
                        return at_bound()
        sync(token)
        if seen is not None:
            seen.finish()
        return Folded(state, cursor.copy(), scan.torn, True, from_seq), False

    def _take_helper(self, helper: Helper, fd: int, state: State) -> LogScan:
        """Join the helper's range onto `state` (folded up to its start) and return the scan
        of what is left. The helper's summary is applied only if it verified its range, the
        range joins the chain, and the run breaks no rule from this state; otherwise the range
        is folded here, decoded only if the helper vouched for its lines, verified if not."""
        verdict = helper.outcome(state.seq, state.head, state.ts)
        summary = verdict[7] if verdict is not None else None
        if isinstance(summary, dict):
            with money_context():
                applied = apply_summary(
                    state,
                    {account: Decimal(text) for account, text in summary["change"].items()},
                    {account: Decimal(text) for account, text in summary["low"].items()},
                    summary["first"],
                    summary["keys"],
                )
            if applied:
                last_seq, last_head, last_ts, last_line = verdict[3:7]  # type: ignore[index]
                state.seq, state.head, state.ts = last_seq, last_head, last_ts  # type: ignore[assignment]
                cursor = Cursor(helper.end, state.seq, state.head, state.ts, last_line)  # type: ignore[arg-type]
                return LogScan(self.path, fd, cursor)  # lines appended after the range, a torn tail
        cursor = Cursor(helper.start, state.seq, state.head, state.ts)
        trusted = (helper.start, helper.end) if verdict is not None else None
        return LogScan(self.path, fd, cursor, bulk=True, trusted=trusted)

    def _warn_torn(self, torn: bytes) -> None:
        """Warn of a torn tail, unless a writer holds the lock (then it is a write in flight)."""
        if not torn:
            return
        for name in (self.path + ".lock", self.path):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            finally:
                os.close(fd)
        warn(f"ignoring {len(torn)} bytes of an interrupted write at the end of {self.path}")

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
                original = _event_at(self.path, fd, reversal.target or 0, index)
                problem = reversal_matches(reversal, original)
                if problem is not None:
                    raise LogCorrupt(reversal.seq, problem)
        except LogCorrupt as exc:  # every line before the bad one is good
            good = exc.line - 1
            head = _event_at(self.path, fd, good).hash or "" if good else State().head
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
                original = _event_at(self.path, writer.fd, command.target, self._line_index(writer.fd))
            keyed = None
            if command.key is not None and command.key in state.keys:
                keyed = _event_at(self.path, writer.fd, state.keys[command.key], self._line_index(writer.fd))
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
                            keyed = _event_at(self.path, writer.fd, seq, index)
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

    def _line_index(self, fd: int) -> LineIndex:
        """Where lines are, for finding events by seq: from the checkpoints when they may be used."""
        near = checkpoint.Snapshots(self.path, fd).before if self.use_cache else None
        return LineIndex(fd, near)

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


class _Seen:
    """What walk() hands to its visitor on the extension's path: the lines the extension
    applied (their starts collected by it, filtered by `only`) and the events Python read,
    in log order; with `tail`, only the last `tail`, held back until the end."""

    def __init__(self, visit: Callable[[EventLike], None], only: str | None, tail: int | None) -> None:
        self.visit = visit
        self.only = only
        self.starts: list[int] = []
        self.pending: deque[bytes | EventLike] | None = None if tail is None else deque(maxlen=tail)

    def lines(self, block: bytes) -> None:
        """Take the lines of `block` that the last fold call collected (verified by it)."""
        for start in self.starts:
            self.add(block[start : block.index(b"\n", start)])
        self.starts.clear()

    def add(self, item: bytes | EventLike) -> None:
        if self.pending is not None:
            self.pending.append(item)
        else:
            self.visit(_event_of(item))

    def finish(self) -> None:
        for item in self.pending or ():
            self.visit(_event_of(item))
        self.pending = None


def _event_of(item: bytes | EventLike) -> EventLike:
    """The event of a line the extension's fold verified (these bytes, in this process), or
    the event itself."""
    return verified_event(item) if isinstance(item, bytes) else item


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


NativeFold = Callable[..., tuple[int, int, int, str, str, int]]
_DONE, _HANDOFF = 0, 1  # the extension's codes (2: it stopped at the bound it was given)


def native_fold() -> NativeFold | None:
    """The C extension's fold, or None (see accel)."""
    module = native()
    return None if module is None else module.fold


PARALLEL_BYTES = 24 << 20  # below this, forking a helper costs more than it saves
HELPER_SHARE = 0.5  # the far share of the file the helper verifies and summarises


def _start_helper(fd: int, cursor: Cursor) -> Helper | None:
    """Fork a helper for the far part of a long read, or None for a short one."""
    size = os.fstat(fd).st_size
    if size - cursor.offset < PARALLEL_BYTES or not hasattr(os, "fork"):
        return None
    from ledger_cli.fastcodec import Helper

    split = cursor.offset + int((size - cursor.offset) * (1 - HELPER_SHARE))
    start = _next_line(fd, split)
    tail = os.pread(fd, 65536, max(0, size - 65536))
    end = size - len(tail) + tail.rfind(b"\n") + 1  # the end of the last whole line
    if start is None or not cursor.offset < start < end:
        return None
    return Helper(fd, start, end)


def _next_line(fd: int, offset: int) -> int | None:
    """The offset of the first line that starts after `offset`."""
    data = os.pread(fd, 65536, offset)
    found = data.find(b"\n")
    return None if found < 0 else offset + found + 1


def _within(events: list[EventLike], until: Point) -> int:
    """How many of `events` (in log order) lie at or before `until`."""
    if until.seq is not None:
        return max(0, min(len(events), until.seq - events[0].seq + 1))
    return bisect_right(events, str(until.ts), key=_ts)  # ts never decreases along the log


def _ts(ev: EventLike) -> str:
    return ev.ts


def _end_of(start: int, lines: list[bytes], count: int, state: State) -> Cursor:
    """The cursor after the first `count` lines of a block that starts at byte `start`."""
    end = start + sum(len(line) + 1 for line in lines[:count])
    line_start = end - len(lines[count - 1]) - 1 if count else end
    return Cursor(end, state.seq, state.head, state.ts, line_start)


LINE_GUESS = 8 << 10  # bytes read for one line (a longer one is read on)


class LineIndex:
    """Where the lines of a log are, sampled every STEP bytes, so that finding event `seq`
    (a reversal's target, an idempotency key's event) reads at most STEP bytes past a sample
    instead of counting newlines from byte 0 each time: a batch of 20,000 keyed retries
    would otherwise read the log 20,000 times.

    `lines[k]` is the number of the line that byte k * STEP lies in. The log only grows while
    it is open (a torn tail is cut off only past the verified lines), so samples stay true.
    """

    STEP = 16 << 10

    def __init__(self, fd: int, near: Callable[[int], tuple[int, int] | None] | None = None) -> None:
        self.fd = fd
        self.lines = [1]
        self.end = 0  # bytes counted so far (a multiple of STEP, or the end of the file)
        self.near = near  # a checkpoint's line start before a seq: then no counting from byte 0

    def start(self, seq: int) -> tuple[int, int]:
        """A byte offset at or before the start of line `seq`, and the number of its line."""
        step = self.STEP
        while self.lines[-1] < seq and self.end == (len(self.lines) - 1) * step:
            chunk = os.pread(self.fd, CHUNK, self.end)
            if not chunk:
                break
            line = self.lines[-1]
            for at in range(0, len(chunk), step):
                piece = chunk.count(b"\n", at, at + step)
                if at + step > len(chunk):  # a short last piece: no sample after it yet
                    self.end += len(chunk) - at
                    break
                line += piece
                self.lines.append(line)
                self.end += step
        k = bisect_left(self.lines, seq) - 1  # the last sample inside a line before `seq`
        return (0, 1) if k < 0 else (k * step, self.lines[k])


def _event_at(path: str, fd: int, seq: int, index: LineIndex | None = None) -> Event:
    """The event on line `seq` (hash-checked), found by counting newlines (from the nearest
    sample of `index`, if one is given).

    `offset` always lies inside line `line`; the target starts after the (seq - line)th
    newline from there, which may be the last newline of a block (issue 8: a line that
    starts after a block's last newline was skipped with the rest of the block).
    """
    hint = None if index is None or index.near is None else index.near(seq)
    if hint is not None:  # a snapshot's verified line start before `seq`
        offset, line = hint
    else:
        offset, line = (0, 1) if index is None else index.start(seq)
    size = CHUNK if index is None else LineIndex.STEP
    while line < seq:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            raise StoreError(f"{path}: event {seq} is missing")
        newlines = chunk.count(b"\n")
        if line + newlines < seq:
            line += newlines
            offset += len(chunk)
            continue
        position = 0
        while line < seq:
            position = chunk.index(b"\n", position) + 1
            line += 1
        offset += position
    rest = os.pread(fd, LINE_GUESS, offset)
    end = rest.find(b"\n")
    while end < 0:
        more = os.pread(fd, CHUNK, offset + len(rest))
        if not more:
            raise StoreError(f"{path}: event {seq} is {'incomplete' if rest else 'missing'}")
        rest += more
        end = rest.find(b"\n")
    return decode_line(rest[:end], seq)
