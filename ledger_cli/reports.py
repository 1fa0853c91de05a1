"""Report data folded from the books: balances, replay digests, account lists, history rows,
journal entries.

Pure: these functions take a State (or events) and return plain data; rendering lives
in render.py and I/O in the store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from decimal import Decimal

from ledger_cli.codec import line_position
from ledger_cli.domain import ZERO, State, _Value
from ledger_cli.errors import RuleViolation
from ledger_cli.events import (
    DEPOSITED,
    REVERSED,
    TRANSFERRED,
    WITHDRAWN,
    Deposited,
    Event,
    EventLike,
    Reversed,
    Transferred,
    Withdrawn,
    as_event,
    date_of,
    typed,
)
from ledger_cli.money import money_context
from ledger_cli.values import covers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ledger_cli.when import Point


class AccountRow(_Value):
    __slots__ = _fields = ("account", "balance", "open")
    account: str
    balance: Decimal
    open: bool

    def __init__(self, account: str, balance: Decimal, open: bool) -> None:
        super().__init__(account, balance, open)


class BalanceReport(_Value):
    """Balances at a point: `seq`/`ts`/`head` name the last event known (0/None for none), and
    `as_of` the day the balances are by (None: every event known, whatever its date)."""

    __slots__ = _fields = ("seq", "ts", "head", "rows", "total", "as_of")
    seq: int
    ts: str | None
    head: str
    rows: list[AccountRow]
    total: Decimal
    as_of: str | None

    def __init__(
        self, seq: int, ts: str | None, head: str, rows: list[AccountRow], total: Decimal, as_of: str | None = None
    ) -> None:
        super().__init__(seq, ts, head, rows, total, as_of)


def matching(state: State, names: list[str]) -> list[str]:
    """The accounts named (each name also covering its sub-accounts), sorted.

    RuleViolation (exit 1) when a name matches no account at this point.
    """
    if not names:
        return sorted(state.open)
    chosen: set[str] = set()
    for name in names:
        found = [account for account in state.open if covers(name, account)]
        if not found:
            raise RuleViolation(f"no account matches {name}")
        chosen.update(found)
    return sorted(chosen)


def balance_report(state: State, names: list[str] | None = None, as_of: str | None = None) -> BalanceReport:
    """The balances of `state` (of the accounts named); `as_of` says the state is the books by
    that date (books.as_of)."""
    accounts = matching(state, names or [])
    rows = [AccountRow(account, state.balances[account], state.open[account]) for account in accounts]
    with money_context():
        total = sum((row.balance for row in rows), ZERO)
    return BalanceReport(state.seq, state.ts, state.head, rows, total, as_of)


def delta(ev: EventLike, name: str) -> Decimal:
    """How much `ev` changes the summed balance of `name` and its sub-accounts."""
    if ev.amount is None or ev.type not in (DEPOSITED, WITHDRAWN, TRANSFERRED, REVERSED):
        return ZERO
    amount = Decimal(ev.amount)
    change = ZERO
    source = ev.account
    if ev.type == DEPOSITED:
        source = None
        destination: str | None = ev.account
    elif ev.type == WITHDRAWN:
        destination = None
    else:
        destination = ev.to
    if source is not None and covers(name, source):
        change -= amount
    if destination is not None and covers(name, destination):
        change += amount
    return change


def touches(ev: EventLike, name: str) -> bool:
    return any(account is not None and covers(name, account) for account in (ev.account, ev.to))


def accounts_report(state: State) -> list[AccountRow]:
    """Every account ever opened, sorted, with its balance and whether it is open."""
    return [AccountRow(name, state.balances[name], state.open[name]) for name in sorted(state.open)]


class HistoryRows:
    """Which events a history shows, fed every event in log order: those of `account` (and its
    sub-accounts) with its running balance, from `since` on, only the last `last` of them.

    `take` returns what to show now; with `last`, rows are held back and `held` gives them at
    the end. `take_lines` is the same for canonical lines, when no account is asked for (the
    line is shown as it is: no event is decoded)."""

    def __init__(
        self, account: str | None = None, since: Point | None = None, last: int | None = None, as_of: str | None = None
    ) -> None:
        self.account = account
        self.since = since
        self.as_of = as_of  # only events dated on or before it count (and show)
        self.running = ZERO
        self._kept: deque[Any] | None = None if last is None else deque(maxlen=last)

    def take(self, ev: EventLike) -> tuple[Event, Decimal | None] | None:
        name = self.account
        if self.as_of is not None and date_of(ev) > self.as_of:
            return None
        if name is not None:
            if not touches(ev, name):
                return None
            self.running += delta(ev, name)
        if self.since is not None and self.since.before(ev.seq, ev.ts):
            return None
        row = (ev if isinstance(ev, Event) else as_event(ev, ev.hash or ""), None if name is None else self.running)
        return self._hold(row)  # type: ignore[no-any-return]

    def take_lines(self, lines: bytes) -> list[bytes]:
        """The lines to show now of `lines` (one or more, joined by newlines)."""
        assert self.as_of is None, "a history by date takes the events, not the lines"
        if self.since is None and self._kept is None:
            return [lines]  # all of them, still in one piece
        shown = []
        for line in lines.split(b"\n"):
            if self.since is not None:
                seq, ts = line_position(line)
                if self.since.before(seq, ts):
                    continue
            kept = self._hold(line)
            if kept is not None:
                shown.append(kept)
        return shown

    def _hold(self, row: Any) -> Any:
        if self._kept is None:
            return row
        self._kept.append(row)
        return None

    def held(self) -> list[Any]:
        return list(self._kept or ())

    def stop_holding(self) -> None:
        """From now on every row is shown as it comes (history --follow, after --last N)."""
        self._kept = None


class Posting(_Value):
    """One leg of an entry: `account` None is the world outside the books (money deposited
    comes from it, money withdrawn goes to it)."""

    __slots__ = _fields = ("account", "amount")
    account: str | None
    amount: Decimal

    def __init__(self, account: str | None, amount: Decimal) -> None:
        super().__init__(account, amount)


class Entry(_Value):
    """A recorded event as a balanced journal entry, for exports (hledger, Beancount): its
    postings sum to zero (none for an open or a close); `reverses` is the seq a reversal undoes."""

    __slots__ = _fields = ("seq", "ts", "type", "memo", "postings", "reverses", "date")
    seq: int
    ts: str
    type: str
    memo: str | None
    postings: tuple[Posting, ...]
    reverses: int | None
    date: str  # the journal date: the event's date (a v1 event's is the local date of its ts)

    def __init__(
        self,
        seq: int,
        ts: str,
        type: str,
        memo: str | None,
        postings: tuple[Posting, ...],
        reverses: int | None,
        date: str = "",
    ) -> None:
        super().__init__(seq, ts, type, memo, postings, reverses, date)


def entry(ev: EventLike) -> Entry:
    """The journal entry of one event: where its money came from and went to."""
    event = typed(ev)
    postings: tuple[Posting, ...] = ()
    if isinstance(event, (Deposited, Withdrawn, Transferred, Reversed)):
        amount = event.amount
        if isinstance(event, Deposited):
            source, destination = None, event.account
        elif isinstance(event, Withdrawn):
            source, destination = event.account, None
        else:
            source, destination = event.account, event.to
        postings = (Posting(destination, amount), Posting(source, -amount))
    reverses = event.target if isinstance(event, Reversed) else None
    return Entry(event.seq, event.ts, event.type, event.memo, postings, reverses, event.date)


def entries(events: Iterable[EventLike]) -> Iterator[Entry]:
    """The journal entries of events in log order (streamed)."""
    with money_context():
        for ev in events:
            yield entry(ev)
