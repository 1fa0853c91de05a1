"""The fold: a log's verified events applied to the books, from the newest usable checkpoint,
by the C extension where it is built (a forked helper for long reads where it is not), up to a
bound; snapshots saved on the way. `Reader` is the read side the application (service.Ledger)
builds on.
"""

from __future__ import annotations

import fcntl
import os
from bisect import bisect_right
from collections.abc import Callable, Iterator

from ledger_cli import checkpoint
from ledger_cli.accel import native
from ledger_cli.codec import verified_event
from ledger_cli.domain import State, check, evolve
from ledger_cli.errors import LogCorrupt
from ledger_cli.events import EventLike
from ledger_cli.lookup import LineIndex
from ledger_cli.money import money_context
from ledger_cli.moves import apply_block
from ledger_cli.store import Cursor, LogScan, check_lines
from ledger_cli.walking import Seen
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ledger_cli.fastcodec import Helper


class Folded:
    """The books at a point: the state, where in the file it ends, any torn tail seen."""

    __slots__ = ("state", "cursor", "torn", "keys_complete", "from_seq")

    def __init__(self, state: State, cursor: Cursor, torn: bytes, keys_complete: bool, from_seq: int) -> None:
        self.state = state
        self.cursor = cursor
        self.torn = torn
        self.keys_complete = keys_complete
        self.from_seq = from_seq  # the checkpoint the fold started from (0: the first line)


class Reader:
    """Folding one log file: the read side of service.Ledger."""

    path: str
    use_cache: bool
    notes: list[str]  # warnings for the user, said by the CLI (the store never prints)

    @staticmethod
    def _segments(
        events: list[EventLike], lines: list[bytes], offset: int, state: State, caching: bool, from_seq: int
    ) -> Iterator[tuple[list[EventLike], Cursor | None]]:
        """Cut a block where snapshots are due: (events, where a snapshot goes after them)."""
        every = checkpoint.interval(state)
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
        lines: bool = False,
        want_keys: bool = True,
        want_days: bool = True,
    ) -> Folded:
        """Fold the log into `state` (a new State, or the newest usable checkpoint's).

        `on_event` sees the events in order (for history): every one, or with the extension
        only those that touch the account `only` (or a sub-account) and every line it hands
        to Python; with `tail`, only the last `tail` of those. `on_block` sees every block of
        applied events (with the extension: those it hands to Python, and the reversals it
        could not match with their targets, see _consume_native). With `lines`, `on_event`
        gets the verified log lines instead of events, one or more at a time, joined by
        newlines (without the last one). Without the extension, long reads fork a helper that
        verifies the far part of the file on the other core while this process folds.

        `want_keys=False` says the caller never reads the state's idempotency keys (verify, a
        report of balances): unless `need_keys` or a checkpoint may be saved (caching), the
        extension then validates them without collecting them, and the Folded says
        keys_complete=False, so that neither a checkpoint nor a writer ever takes that state.
        `want_days=False` likewise says nobody reads its changes per day (a report that is not
        by date): unless a checkpoint may be saved or a writer folds, the extension keeps them.
        """
        caching = self.use_cache if use_cache is None else use_cache
        stat_before = checkpoint.stat_key(fd) if caching else None
        start = checkpoint.best(self.path, fd, until, need_keys=need_keys, keys_wanted=want_keys) if caching else None
        if start is not None:
            state, cursor, keys_complete = start
        else:
            state, cursor, keys_complete = (state or State()), Cursor(), True
        from_seq = cursor.seq
        # A checkpoint is used only while the seal says ledger writers left the log so (best()):
        # the lines after it were checked as they were written, and a backdated debit among
        # them needs no load of its account's changes per day.
        state.vouched = start is not None and not state.days_known
        try:
            native = native_fold()
            if native is not None:
                scan = LogScan(self.path, fd, cursor, bulk=False)
                seen = None if on_event is None else Seen(on_event, only, tail, lines)
                collect = want_keys or need_keys or caching
                keys_complete = keys_complete and collect
                keep_days = want_days or caching or need_keys
                folded, stopped = self._consume_native(
                    native, scan, state, until, on_block, seen, caching, from_seq, collect, keep_days
                )
            else:
                # A long uncached, unbounded read forks a helper for the far half of the file.
                helper = _start_helper(fd, cursor) if on_event is None and until is None and not caching else None
                # A bounded read from a checkpoint folds at most a checkpoint interval: too few lines
                # to repay msgspec's import, so it decodes with the standard library.
                bulk = False if until is not None and start is not None else None
                scan = LogScan(self.path, fd, cursor, bulk=bulk, stop=helper.start if helper else None)
                try:
                    folded = self._consume(scan, state, until, on_event, on_block, caching, from_seq, lines)
                except BaseException:
                    if helper is not None:
                        helper.cancel()
                    raise
                if helper is not None:
                    scan = self._take_helper(helper, fd, state)
                    folded = self._consume(scan, state, None, None, on_block, caching, from_seq)
                stopped = folded.torn == b"" and folded.cursor.offset != scan.cursor.offset
        finally:
            state.vouched = False
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
        raw: bool = False,
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
                    for ev, line in zip(applied, lines):
                        problem = check(state, ev)
                        if problem is not None:
                            raise LogCorrupt(ev.seq, problem)
                        evolve(state, ev)
                        on_event(line if raw else ev)  # type: ignore[arg-type]
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
        seen: Seen | None,
        caching: bool,
        from_seq: int,
        collect_keys: bool = True,
        keep_days: bool = True,
    ) -> tuple[Folded, bool]:
        """_consume() with the C extension: (folded, whether it stopped at `until`).

        The extension applies the verified deposits, withdrawals, transfers, opens, closes and
        reversals it can vouch for, and hands every other line to the Python reader here, one
        at a time: anything in an unusual form (an escape in a string), and every line that is
        wrong, so that the error names it exactly as the Python path does. Without
        `collect_keys` it checks the idempotency keys but leaves them out of state.keys.

        `on_block` (verify's, which then checks each reversal it sees against its target)
        sees, in log order, the events handled here and the reversals the extension applied
        but could not prove undo their target: it reads each target's line from the file and
        vouches for the reversals that match it (domain.reversal_matches), and lists where
        the others start, to be decoded here. So verify finds every mismatch as before.
        Without `keep_days` the changes per day are not written back at the end: the state then
        says it does not know them (books.State.days_known), and memory stays flat.
        """
        bound_seq = until.seq if until is not None and until.seq is not None else -1
        bound_ts = until.ts if until is not None and until.seq is None else None
        cursor = scan.cursor
        balances, opened, reversed_by = state.balances, state.open, state.reversed_by
        keys = state.keys if collect_keys else None
        reversals: list[int] | None = None if on_block is None else []

        starts = None if seen is None else seen.starts
        only = None if seen is None else seen.only
        # The extension keeps the balances in its own books during this fold (named by the
        # token) and writes them back to state.balances on sync: before Python reads them.
        token = object()
        sync = native().sync  # type: ignore[union-attr]

        def at_bound() -> tuple[Folded, bool]:
            sync(token, None, keep_days)
            _drop_days(state, keep_days)
            if seen is not None:
                seen.finish()
            return Folded(state, cursor.copy(), b"", True, from_seq), True

        if 0 <= bound_seq <= state.seq:
            return at_bound()
        with money_context():
            every = checkpoint.interval(state) if caching else 1
            for offset, block in scan.whole_blocks():
                pos = 0
                size = len(block)
                while pos < size:
                    due = (state.seq // every + 1) * every if caching else -1
                    stop = due if bound_seq < 0 or 0 <= due < bound_seq else bound_seq
                    code, pos, seq, head, ts, line_start = fold(
                        block, pos, state.seq, state.head, state.ts or "", balances, opened, keys, stop, bound_ts,
                        token, starts, only, reversed_by, reversals, scan.fd, offset,
                        state.days, state.last_day, state.status, state.closed_through, not state.days_known,
                        state.opened_on, state.offday,
                    )  # fmt: skip
                    if reversals and on_block is not None:  # verified by the extension: only decoded
                        on_block([verified_event(block[at : block.index(b"\n", at)]) for at in reversals])
                        reversals.clear()
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
                        every = checkpoint.interval(state)
                    if state.seq == bound_seq:
                        return at_bound()
        sync(token, None, keep_days)
        _drop_days(state, keep_days)
        if seen is not None:
            seen.finish()
        return Folded(state, cursor.copy(), scan.torn, True, from_seq), False

    def _take_helper(self, helper: Helper, fd: int, state: State) -> LogScan:
        """The scan of the helper's range, to fold onto `state` (folded up to its start): its
        lines are decoded without hashing them again if the helper vouched for them (verified
        them, and the range joins the chain), verified here if not."""
        verdict = helper.outcome(state.seq, state.head, state.ts)
        cursor = Cursor(helper.start, state.seq, state.head, state.ts)
        trusted = (helper.start, helper.end) if verdict is not None else None
        return LogScan(self.path, fd, cursor, bulk=True, trusted=trusted)

    def _line_index(self, fd: int) -> LineIndex:
        """Where lines are, for finding events by seq: from the checkpoints when they may be used."""
        near = checkpoint.Snapshots(self.path, fd).before if self.use_cache else None
        return LineIndex(fd, near)

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
        self.notes.append(f"ignoring {len(torn)} bytes of an interrupted write at the end of {self.path}")


def _drop_days(state: State, kept: bool) -> None:
    """After a fold that left the changes per day in the extension: the state lacks them."""
    if not kept:
        state.days_known, state.days_loader = False, None


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
