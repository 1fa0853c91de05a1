"""The books after `seq` events (State), on both axes of contract section 7: the balances as
recorded, and what the by-date rules and reports need (each account's change per day, its
opens and closes by date, the closed period). Pure: no clock, no I/O.

The balance of an account by date D is its balance minus the changes dated after D; with
no future dates those are few (recent days), so the books as of any day come from the
state at the head without reading the log again (as_of).
"""

from __future__ import annotations

from decimal import Decimal

from ledger_cli.events import GENESIS

ZERO = Decimal(0)

# A status entry: (date, seq, opened?) for each account_closed (False) of an account and each
# account_opened (True) after one, in log order. A first open has none: it blocks nothing (an
# open date never blocks earlier entries), and a book of 200k opened accounts stays small.
StatusEntry = tuple[str, int, bool]
# A period entry: (seq, type, date) for each period_closed and period_reopened, in log order.
PeriodEntry = tuple[int, str, str]


class State:
    """The books after `seq` events.

    balances, open, reversed_by, keys: as recorded (open: account -> still open?).
    days: account -> date -> the net change of its balance dated that day (entries are never
    dropped, even at zero); last_day: account -> its latest such date.
    status: account -> its StatusEntry list; closed_through / closed_seq: the last day of the
    closed period and the seq that set it (None, 0: never closed); periods: PeriodEntry list.
    """

    __slots__ = (
        "balances", "open", "reversed_by", "keys", "seq", "ts", "head",
        "days", "last_day", "status", "closed_through", "closed_seq", "periods",
    )  # fmt: skip

    def __init__(
        self,
        balances: dict[str, Decimal] | None = None,
        open: dict[str, bool] | None = None,
        reversed_by: dict[int, int] | None = None,
        keys: dict[str, int] | None = None,
        seq: int = 0,
        ts: str | None = None,
        head: str = GENESIS,
        days: dict[str, dict[str, Decimal]] | None = None,
        last_day: dict[str, str] | None = None,
        status: dict[str, list[StatusEntry]] | None = None,
        closed_through: str | None = None,
        closed_seq: int = 0,
        periods: list[PeriodEntry] | None = None,
    ) -> None:
        self.balances = {} if balances is None else balances
        self.open = {} if open is None else open
        self.reversed_by = {} if reversed_by is None else reversed_by  # target seq -> reversal seq
        self.keys = {} if keys is None else keys  # idempotency key -> seq
        self.seq = seq
        self.ts = ts
        self.head = head
        self.days = {} if days is None else days
        self.last_day = {} if last_day is None else last_day
        self.status = {} if status is None else status
        self.closed_through = closed_through
        self.closed_seq = closed_seq
        self.periods = [] if periods is None else periods

    def __eq__(self, other: object) -> bool:
        return isinstance(other, State) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "State(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"

    def day_entries(self) -> int:
        """How many (account, day) changes the state holds (a snapshot's size grows with it)."""
        return sum(map(len, self.days.values()))


def add_day(state: State, account: str, change: Decimal, date: str) -> None:
    """Record a change of `account`'s balance dated `date`."""
    days = state.days.get(account)
    if days is None:
        state.days[account] = {date: change}
        state.last_day[account] = date
        return
    days[date] = days.get(date, ZERO) + change
    if date > state.last_day[account]:
        state.last_day[account] = date


def low_from(state: State, account: str, date: str) -> tuple[Decimal, str]:
    """The lowest balance by date of `account` on `date` or any later day, and the first day
    it is reached (the balance is constant between the days that hold changes)."""
    days = state.days.get(account)
    balance = state.balances.get(account, ZERO)
    if not days:
        return balance, date
    later = sorted(day for day in days if day > date)
    run = balance - sum((days[day] for day in later), ZERO)
    low, low_day = run, date
    for day in later:
        run += days[day]
        if run < low:
            low, low_day = run, day
    return low, low_day


def reopened_on(status: list[StatusEntry] | None) -> str | None:
    """The date of an account's latest reopening (its first open after its latest close), or
    None if it was never closed (or is closed now)."""
    if not status:
        return None
    for index in range(len(status) - 1, -1, -1):
        if not status[index][2]:
            return status[index + 1][0] if index + 1 < len(status) else None
    return None


def closed_on(status: list[StatusEntry] | None) -> str | None:
    """The date of an account's latest close, or None."""
    for date, _, opened in reversed(status or ()):
        if not opened:
            return date
    return None


def balance_as_of(state: State, account: str, date: str) -> Decimal:
    """The balance of `account` by date at the end of `date`."""
    days = state.days.get(account, {})
    return state.balances.get(account, ZERO) - sum((change for day, change in days.items() if day > date), ZERO)


def as_of(state: State, date: str) -> State:
    """The books by date at the end of `date`, as `state` knows them: a State holding only the
    accounts that exist by then (an entry, an open or a close dated on or before it), each with
    its balance by date and whether it is open then (its last open or close dated on or before
    it, in (date, seq) order; an account never opened explicitly is open)."""
    balances: dict[str, Decimal] = {}
    opened: dict[str, bool] = {}
    for account in state.balances:
        days = state.days.get(account, {})
        status = state.status.get(account, [])
        if (days or status) and not any(day <= date for day in days) and not any(e[0] <= date for e in status):
            continue  # (an account only ever opened, with no entry and no close, shows on any day)
        balances[account] = balance_as_of(state, account, date)
        known = sorted(entry for entry in status if entry[0] <= date)
        opened[account] = known[-1][2] if known else True
    view = State(balances, opened, seq=state.seq, ts=state.ts, head=state.head)
    view.closed_through, view.closed_seq, view.periods = state.closed_through, state.closed_seq, state.periods
    return view
