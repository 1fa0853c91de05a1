"""The ledger's rules: State, decide() and evolve(). Pure: no clock, no ids, no I/O.

`decide(command, state, stamp)` returns the events a command records (none for an
idempotent retry) or raises RuleViolation. `evolve(state, event)` applies a recorded
fact. `check(state, event)` holds every rule once: decide() refuses a candidate
event that check() faults, and replaying the log runs check() on every recorded event,
so the rules a writer enforces are exactly the rules `verify` audits.
"""

from __future__ import annotations

from decimal import Decimal

from ledger_cli.books import ZERO, State, add_day, closed_on, low_from, reopened_on
from ledger_cli.commands import (
    Close,
    ClosePeriod,
    Command,
    Deposit,
    Open,
    ReopenPeriod,
    Reverse,
    Stamp,
    Transfer,
    Withdraw,
    _Value,
)  # fmt: skip
from ledger_cli.dates import local_day, shift
from ledger_cli.errors import InvalidValue, RuleViolation
from ledger_cli.events import (
    CLOSED,
    DEPOSITED,
    MOVEMENTS,
    OPENED,
    PERIOD_CLOSED,
    PERIOD_REOPENED,
    PERIODS,
    REVERSED,
    TRANSFERRED,
    WITHDRAWN,
    Event,
    EventLike,
    date_of,
)
from ledger_cli.money import format_amount

__all__ = [  # what domain re-exports from commands and books (its own names are public too)
    "ZERO",
    "Close",
    "ClosePeriod",
    "Command",
    "Deposit",
    "Open",
    "ReopenPeriod",
    "Reverse",
    "Stamp",
    "State",
    "Transfer",
    "Withdraw",
    "_Value",
]


# ---- rules ---------------------------------------------------------------------------------
# Each rule holds in both orders (contract section 7): in log order, on the balances as
# recorded, and by date, on the balances by date of every day from the event's date on.


def _closed(state: State, account: str) -> bool:
    return state.open.get(account) is False


def _funds_problem(state: State, account: str, amount: Decimal) -> str | None:
    has = state.balances.get(account, ZERO)
    if has < amount:
        return f"insufficient funds: {account} has {format_amount(has)}, needs {format_amount(amount)}"
    return None


def _source_problem(state: State, account: str, amount: Decimal) -> str | None:
    is_open = state.open.get(account)
    if is_open is None:
        return f"unknown account {account}"
    if not is_open:
        return f"account {account} is closed"
    return _funds_problem(state, account, amount)


def _destination_problem(state: State, account: str) -> str | None:
    return f"account {account} is closed" if _closed(state, account) else None


def _reopening_problem(state: State, account: str, date: str) -> str | None:
    """An entry dated before the account's latest reopening would fall while it was closed."""
    reopened = reopened_on(state.status.get(account))
    if reopened is not None and date < reopened:
        return f"account {account} was closed until {reopened}: nothing can be dated {date}, before its reopening"
    return None


def _dated_debit_problem(state: State, account: str, amount: Decimal, date: str) -> str | None:
    """A debit dated `date` must leave the balance by date of that day and every later day
    at zero or more (the balance as recorded was checked already)."""
    problem = _reopening_problem(state, account, date)
    if problem is not None:
        return problem
    last = state.last_day.get(account)
    if last is None or date >= last:
        return None  # nothing is dated after it: the balance as recorded is the one that counts
    low, day = low_from(state, account, date)
    if low < amount:
        return f"insufficient funds: {account} had {format_amount(low)} on {day}, needs {format_amount(amount)}"
    return None


def _closed_period_problem(state: State, date: str) -> str | None:
    through = state.closed_through
    if through is not None and date <= through:
        return f"the books are closed through {through} (seq {state.closed_seq}): nothing can be dated {date}"
    return None


def check(state: State, ev: EventLike) -> str | None:
    """Why recording `ev` on top of `state` breaks a ledger rule, or None."""
    kind = ev.type
    date = date_of(ev)
    if kind in PERIODS:
        return _period_problem(state, kind, date)
    problem = _closed_period_problem(state, date)
    if problem is not None:
        return problem
    if kind == DEPOSITED:
        account = str(ev.account)
        return _destination_problem(state, account) or _reopening_problem(state, account, date)
    if kind == WITHDRAWN:
        account, amount = str(ev.account), Decimal(str(ev.amount))
        return _source_problem(state, account, amount) or _dated_debit_problem(state, account, amount, date)
    if kind == TRANSFERRED:
        if ev.account == ev.to:
            return f"cannot transfer from {ev.account} to itself"
        source, to, amount = str(ev.account), str(ev.to), Decimal(str(ev.amount))
        return (
            _source_problem(state, source, amount)
            or _destination_problem(state, to)
            or _dated_debit_problem(state, source, amount, date)
            or _reopening_problem(state, to, date)
        )
    if kind == OPENED:
        return _open_problem(state, str(ev.account), date)
    if kind == CLOSED:
        return _close_problem(state, str(ev.account), date)
    if kind == REVERSED:
        return _reversal_problem(state, ev, date)
    return f"unknown event type {kind!r}"


def _period_problem(state: State, kind: str, date: str) -> str | None:
    through = state.closed_through
    if kind == PERIOD_CLOSED:
        if through is not None and date <= through:
            return f"the books are already closed through {through} (seq {state.closed_seq}): close a later day"
        return None
    if through is None:
        return "the books are not closed: there is no closed period to reopen"
    if date > through:
        return f"{date} is not in the closed period: the books are closed through {through} (seq {state.closed_seq})"
    return None


def _open_problem(state: State, account: str, date: str) -> str | None:
    is_open = state.open.get(account)
    if is_open:
        return f"account {account} is already open"
    if is_open is False:
        closed = closed_on(state.status.get(account))
        if closed is not None and date < closed:
            return f"account {account} was closed on {closed}: it cannot be reopened on an earlier day ({date})"
    return None


def _close_problem(state: State, account: str, date: str) -> str | None:
    is_open = state.open.get(account)
    if is_open is None:
        return f"unknown account {account}"
    if not is_open:
        return f"account {account} is already closed"
    balance = state.balances[account]
    if balance != 0:
        return f"account {account} has a balance of {format_amount(balance)}; only an account at zero can be closed"
    last = state.last_day.get(account)
    if last is not None and last > date:
        return (
            f"account {account} has entries dated after {date} (the latest on {last}): date the close {last} or later"
        )
    return _reopening_problem(state, account, date)


def _reversal_problem(state: State, ev: EventLike, date: str) -> str | None:
    target = ev.target
    assert target is not None
    if not 1 <= target < ev.seq:
        return f"there is no earlier event with seq {target} to reverse"
    if target in state.reversed_by:
        return f"event {target} is already reversed (by seq {state.reversed_by[target]})"
    amount = Decimal(ev.amount)  # type: ignore[arg-type]
    if ev.account is not None and ev.account == ev.to:
        return "a reversal cannot move money from an account to itself"
    if ev.account is not None:
        problem = _source_problem(state, ev.account, amount) or _dated_debit_problem(state, ev.account, amount, date)
        if problem is not None:
            return f"reversing event {target} would fail: {problem}"
    if ev.to is not None:
        if ev.to not in state.open:
            return f"reversing event {target} would fail: unknown account {ev.to}"
        problem = _destination_problem(state, ev.to) or _reopening_problem(state, ev.to, date)
        if problem is not None:
            return f"reversing event {target} would fail: {problem}"
    return None


def reversal_of(original: EventLike) -> tuple[str | None, str | None]:
    """(account, to) of the reversal of a money movement: money flows from account to `to`.

    Undoing a deposit takes the money out of its account (no `to`); undoing a withdrawal
    puts it back (no `account`); undoing a transfer moves it from `to` back to `account`.
    """
    if original.type == DEPOSITED:
        return original.account, None
    if original.type == WITHDRAWN:
        return None, original.account
    return original.to, original.account


def reversal_matches(reversal: EventLike, original: EventLike) -> str | None:
    """Why a recorded reversal does not undo its target, or None (checked by `verify`)."""
    if original.type not in MOVEMENTS:
        return f"reverses event {original.seq}, a {original.type}, which moves no money"
    if (reversal.account, reversal.to) != reversal_of(original) or Decimal(
        reversal.amount  # type: ignore[arg-type]
    ) != Decimal(original.amount):  # type: ignore[arg-type]
        return f"does not undo event {original.seq}: accounts or amount differ"
    if date_of(reversal) < date_of(original):
        return f"is dated {date_of(reversal)}, before the event it reverses (seq {original.seq}, {date_of(original)})"
    return None


# ---- evolve ---------------------------------------------------------------------------------


def evolve(state: State, ev: EventLike) -> State:
    """Apply a recorded fact to `state` (in place, for speed) and return it. Never validates."""
    kind = ev.type
    balances = state.balances
    date = date_of(ev)
    if kind == DEPOSITED or kind == WITHDRAWN or kind == TRANSFERRED:
        amount = Decimal(ev.amount)  # type: ignore[arg-type]
        account = str(ev.account)
        if kind == DEPOSITED:
            _credit(state, account, amount, date)
        else:
            balances[account] -= amount
            add_day(state, account, -amount, date)
            if kind == TRANSFERRED:
                _credit(state, str(ev.to), amount, date)
    elif kind == OPENED:
        account = str(ev.account)
        if account in state.open:  # a reopening (a first open blocks nothing: its date is kept apart)
            state.status.setdefault(account, []).append((date, ev.seq, True))
        else:
            state.opened_on[account] = date
        state.open[account] = True
        balances.setdefault(account, ZERO)
    elif kind == CLOSED:
        account = str(ev.account)
        state.open[account] = False
        state.status.setdefault(account, []).append((date, ev.seq, False))
    elif kind == REVERSED:
        amount = Decimal(ev.amount)  # type: ignore[arg-type]
        if ev.account is not None:
            balances[ev.account] -= amount
            add_day(state, ev.account, -amount, date)
        if ev.to is not None:
            balances[ev.to] += amount
            add_day(state, ev.to, amount, date)
        state.reversed_by[ev.target] = ev.seq  # type: ignore[index]
    elif kind == PERIOD_CLOSED:
        state.closed_through, state.closed_seq = date, ev.seq
        state.periods.append((ev.seq, kind, date))
    elif kind == PERIOD_REOPENED:
        state.closed_through, state.closed_seq = shift(date, -1), ev.seq
        state.periods.append((ev.seq, kind, date))
    if ev.date is not None and kind != PERIOD_CLOSED and kind != PERIOD_REOPENED and ev.date != local_day(ev.ts):
        state.offday.append((ev.seq, ev.date, kind, ev.account, ev.to, ev.amount))
    if ev.key is not None:
        state.keys[ev.key] = ev.seq
    state.seq = ev.seq
    state.ts = ev.ts
    state.head = ev.hash  # type: ignore[assignment]
    return state


def _credit(state: State, account: str, amount: Decimal, date: str) -> None:
    """Money arrives in `account` (opened by it if it never existed)."""
    if account in state.open:
        state.balances[account] += amount
    else:
        state.open[account] = True
        state.balances[account] = amount
    add_day(state, account, amount, date)


# ---- decide --------------------------------------------------------------------------------


def _date(command: Command, state: State, stamp: Stamp, original: EventLike | None) -> str:
    """The date the command's event gets: its own (never after today), else today; a
    reversal by default keeps the original's date while that day is open."""
    date = command.date
    if date is not None:
        if date > stamp.today:
            raise InvalidValue(
                f"invalid date {date}: it is after today ({stamp.today}); the books take no future dates"
            )
        if original is not None and date < date_of(original):
            raise InvalidValue(
                f"invalid date {date}: a reversal cannot be dated before the event it reverses "
                f"(seq {original.seq}, dated {date_of(original)})"
            )
        return date
    if original is not None:
        day = date_of(original)
        if state.closed_through is None or day > state.closed_through:
            return day
    return stamp.today


def _candidate(command: Command, state: State, stamp: Stamp, original: EventLike | None) -> Event:
    base = {
        "seq": state.seq + 1,
        "id": stamp.id,
        # ts never decreases along the file, even when the clock steps back.
        "ts": max(stamp.ts, state.ts) if state.ts else stamp.ts,
        "prev": state.head,
        "memo": command.memo,
        "key": command.key,
    }
    if isinstance(command, (ClosePeriod, ReopenPeriod)):
        kind = PERIOD_CLOSED if isinstance(command, ClosePeriod) else PERIOD_REOPENED
        return Event(type=kind, date=_date(command, state, stamp, None), **base)  # type: ignore[arg-type]
    if isinstance(command, Reverse):
        if original is None:
            raise RuleViolation(f"there is no event with seq {command.target} to reverse")
        if original.type not in MOVEMENTS:
            raise RuleViolation(
                f"event {command.target} is a {original.type}, not a money movement; only "
                "deposits, withdrawals and transfers can be reversed"
            )
        account, to = reversal_of(original)
        return Event(
            type=REVERSED, target=command.target, account=account, to=to,
            amount=original.amount, date=_date(command, state, stamp, original), **base,  # type: ignore[arg-type]
        )  # fmt: skip
    base["date"] = _date(command, state, stamp, None)
    if isinstance(command, Open):
        return Event(type=OPENED, account=command.account, **base)  # type: ignore[arg-type]
    if isinstance(command, Close):
        return Event(type=CLOSED, account=command.account, **base)  # type: ignore[arg-type]
    if isinstance(command, Deposit):
        return Event(type=DEPOSITED, account=command.account, amount=format_amount(command.amount), **base)  # type: ignore[arg-type]
    if isinstance(command, Withdraw):
        return Event(type=WITHDRAWN, account=command.account, amount=format_amount(command.amount), **base)  # type: ignore[arg-type]
    assert isinstance(command, Transfer)
    return Event(
        type=TRANSFERRED, account=command.source, to=command.to,
        amount=format_amount(command.amount), **base,  # type: ignore[arg-type]
    )  # fmt: skip


def same_payload(command: Command, recorded: EventLike) -> bool:
    """Whether `recorded` is what `command` would record (an idempotent retry). A command
    without a date (today) matches the recorded date, whatever day the first try ran on."""
    if command.date is not None and command.date != date_of(recorded):
        return False
    if isinstance(command, Reverse):
        return (recorded.type, recorded.target, recorded.memo) == (REVERSED, command.target, command.memo)
    probe = _candidate(command, State(), Stamp(ts=recorded.ts, id=recorded.id, today="9999-12-31"), None)
    amounts_equal = (probe.amount is None) == (recorded.amount is None) and (
        probe.amount is None or Decimal(probe.amount) == Decimal(recorded.amount)  # type: ignore[arg-type]
    )
    return (probe.type, probe.account, probe.to, probe.memo) == (
        recorded.type, recorded.account, recorded.to, recorded.memo,
    ) and amounts_equal  # fmt: skip


def decide(
    command: Command,
    state: State,
    stamp: Stamp,
    *,
    original: EventLike | None = None,
    keyed: EventLike | None = None,
) -> list[Event]:
    """The events `command` records on top of `state`, or RuleViolation (InvalidValue for a
    date after today, or a reversal dated before its original).

    `original` is the event a Reverse names (None if there is none); `keyed` is the event
    already recorded under the command's idempotency key, if any. A retry with the same
    payload records nothing; the same key with another payload is refused.
    """
    if keyed is not None:
        if same_payload(command, keyed):
            return []
        raise RuleViolation(
            f"idempotency key {command.key!r} was already used by event {keyed.seq} for another command"
        )
    event = _candidate(command, state, stamp, original)
    problem = check(state, event)
    if problem is not None:
        raise RuleViolation(problem)
    return [event]
