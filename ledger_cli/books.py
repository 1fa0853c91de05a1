"""The books after `seq` events (State), on both axes of contract section 7: the balances as
recorded, and what the by-date rules and reports need (each account's change per day, its
opens and closes by date, the closed period). Pure: no clock, no I/O.

The balance of an account by date D is its balance minus the changes dated after D. The
changes per day are the one part of the books that grows with the log, so a state read from a
checkpoint starts without them (days_known False): `days` then holds only the changes folded
since, and `days_loader`, when the checkpoint has them beside it, gives the rest, an account at
a time (account_days) or all at once (ensure_days), only when a rule or a report by date needs
them: a backdated debit, a reversal, a report --as-of.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ledger_cli.events import GENESIS

ZERO = Decimal(0)

# A status entry: (date, seq, opened?) for each account_closed (False) of an account and each
# account_opened (True) after one, in log order. A first open has none: it blocks nothing (an
# open date never blocks earlier entries); its date, in opened_on, says from which day the
# account exists by date (a dict of dates stays small for a book of 200k opened accounts).
StatusEntry = tuple[str, int, bool]
# A period entry: (seq, type, date) for each period_closed and period_reopened, in log order.
PeriodEntry = tuple[int, str, str]
Days = dict[str, dict[str, Decimal]]
# An off-day entry: (seq, date, type, account, to, amount) of each v2 event dated other than the
# local day of its ts (backdated, or written in another zone): with them, the books as of a day
# are the state at the day's end plus the later entries dated on or before it (as_of_cut).
OffDay = tuple[int, str, str, "str | None", "str | None", "str | None"]


class DaysLoader:
    """The changes per day of the books a checkpoint holds: `account(name)` gives one account's
    (a new dict), `everything()` all of them. The store behind it builds them from the log
    itself if its copy beside the checkpoint is unusable, so both always answer. `offday()` gives
    the checkpoint's off-day entries, `cut(date, seq)` those recorded after event `seq` dated on
    or before `date` (None if one recorded by then is dated after it)."""

    def __init__(
        self,
        account: Callable[[str], dict[str, Decimal]],
        everything: Callable[[], Days],
        offday: Callable[[], list[OffDay]],
        cut: Callable[[str, int], list[OffDay] | None],
    ) -> None:
        self.account = account
        self.everything = everything
        self.offday = offday
        self.cut = cut


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
        "opened_on", "offday", "days_known", "offday_known", "days_loader", "days_merged", "vouched",
    )  # fmt: skip
    _compared = __slots__[:15]

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
        opened_on: dict[str, str] | None = None,
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
        self.opened_on = {} if opened_on is None else opened_on  # account -> the date of its first open
        self.offday: list[OffDay] = []  # in log order
        self.offday_known = True  # offday lists them all (False: only those since a checkpoint)
        self.days_known = True  # days holds every change (False: only those since a checkpoint)
        self.days_loader: DaysLoader | None = None  # the checkpoint's changes, when days_known is False
        self.days_merged: set[str] = set()  # accounts whose days hold the checkpoint's changes too
        # True only while a fold applies lines that their writer checked (the seal vouches for
        # them): a backdated debit among them then needs no check against days not loaded.
        self.vouched = False

    def __eq__(self, other: object) -> bool:
        """The same books (their changes per day loaded first, where a checkpoint left them out)."""
        if not isinstance(other, State):
            return False
        ensure_days(self), ensure_days(other)
        return all(getattr(self, n) == getattr(other, n) for n in self._compared)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "State(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._compared) + ")"


def _merge(base: dict[str, Decimal], since: dict[str, Decimal] | None) -> dict[str, Decimal]:
    for day, change in (since or {}).items():
        base[day] = base.get(day, ZERO) + change
    return base


def account_days(state: State, account: str) -> dict[str, Decimal] | None:
    """Every change per day of `account` (None: not known here, see State)."""
    if state.days_known or account in state.days_merged:
        return state.days.get(account)
    loader = state.days_loader
    if loader is None:
        return None
    days = _merge(loader.account(account), state.days.get(account))
    if days:
        state.days[account] = days
    state.days_merged.add(account)
    return days


def ensure_days(state: State) -> bool:
    """Load every change per day into `state` if a checkpoint left them out; whether it holds
    them all now."""
    if state.days_known:
        return True
    loader = state.days_loader
    if loader is None or not ensure_offday(state):
        return False
    days = loader.everything()
    for account, changes in state.days.items():
        if account in state.days_merged:
            days[account] = changes
        elif changes:
            days[account] = _merge(days.get(account, {}), changes)
    state.days, state.days_known, state.days_loader, state.days_merged = days, True, None, set()
    return True


def ensure_offday(state: State) -> bool:
    """Load every off-day entry into `state` if a checkpoint left them out; whether it holds
    them all now."""
    if state.offday_known:
        return True
    loader = state.days_loader
    if loader is None:
        return False
    state.offday = loader.offday() + state.offday
    state.offday_known = True
    return True


class DaysUnknown(Exception):
    """The books by date were asked of a state that lacks its changes per day and cannot load them."""


def add_day(state: State, account: str, change: Decimal, date: str) -> None:
    """Record a change of `account`'s balance dated `date`."""
    days = state.days.get(account)
    if days is None:  # (a state from a checkpoint knows the latest day, not the days)
        state.days[account] = {date: change}
        last = state.last_day.get(account)
        if last is None or date > last:
            state.last_day[account] = date
        return
    days[date] = days.get(date, ZERO) + change
    if date > state.last_day[account]:
        state.last_day[account] = date


def low_from(state: State, account: str, date: str) -> tuple[Decimal, str]:
    """The lowest balance by date of `account` on `date` or any later day, and the first day
    it is reached (the balance is constant between the days that hold changes). A state that
    does not know the account's changes (a bounded read from a snapshot: the lines it folds were
    checked when they were written and folded first, as the checkpoint's seal vouches) takes
    the balance as it is; so does one folding lines that the seal vouches for (State.vouched)."""
    if state.vouched and not state.days_known and account not in state.days_merged:
        return state.balances.get(account, ZERO), date
    days = account_days(state, account)
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
    """The balance of `account` by date at the end of `date` (DaysUnknown if not known here)."""
    if not ensure_days(state):
        raise DaysUnknown
    days = state.days.get(account, {})
    return sum((change for day, change in days.items() if day <= date), ZERO)  # exact: any order


def as_of(state: State, date: str) -> State:
    """The books by date at the end of `date`, as `state` knows them: a State holding only the
    accounts that exist by then (an entry, an open or a close dated on or before it), each with
    its balance by date and whether it is open then (its last open or close dated on or before
    it, in (date, seq) order; an account opened by an entry is open). DaysUnknown if `state`
    does not know its changes per day (service.Ledger.state(dated=True) never gives such)."""
    if not ensure_days(state):
        raise DaysUnknown
    balances: dict[str, Decimal] = {}
    opened: dict[str, bool] = {}
    for account in state.balances:
        days = state.days.get(account, {})
        status = state.status.get(account, [])
        first = state.opened_on.get(account)
        if not (first is not None and first <= date) and not any(day <= date for day in days):
            if not any(e[0] <= date for e in status):
                continue
        balances[account] = balance_as_of(state, account, date)
        known = sorted(entry for entry in status if entry[0] <= date)
        opened[account] = known[-1][2] if known else True
    view = State(balances, opened, seq=state.seq, ts=state.ts, head=state.head)
    view.closed_through, view.closed_seq, view.periods = state.closed_through, state.closed_seq, state.periods
    return view


def as_of_cut(base: State, head: State, date: str) -> State | None:
    """as_of(head, date) from `base`, the books after the last event recorded before the local
    midnight that ends `date`, and head's off-day entries (DaysLoader.cut): base plus the later
    entries dated on or before `date`. None when an entry of base is dated after `date` (written
    in a zone ahead of the reader's) or base is not a prefix of head: then as_of() it is."""
    if base.seq > head.seq:
        return None
    entries = head.offday
    if not head.offday_known:  # the checkpoint's own, found without decoding them all
        loader = head.days_loader
        early = None if loader is None else loader.cut(date, base.seq)
        if early is None:
            return None
        entries = early + entries
    balances = dict(base.balances)
    for seq, day, kind, account, to, amount in entries:
        if seq <= base.seq:
            if day > date:
                return None
            continue
        if day > date:
            continue
        if amount is None:  # an open or a close: the account exists by then
            balances.setdefault(account, ZERO)  # type: ignore[arg-type]
            continue
        value = Decimal(amount)
        if account is not None:
            balances[account] = balances.get(account, ZERO) + (value if kind == "deposited" else -value)
        if to is not None:
            balances[to] = balances.get(to, ZERO) + value
    opened: dict[str, bool] = {}
    for account in balances:
        known = sorted(entry for entry in head.status.get(account, ()) if entry[0] <= date)
        opened[account] = known[-1][2] if known else True
    view = State(balances, opened, seq=head.seq, ts=head.ts, head=head.head)
    view.closed_through, view.closed_seq, view.periods = head.closed_through, head.closed_seq, head.periods
    return view
