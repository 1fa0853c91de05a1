"""The hot path of folds and batch imports: the rules of domain.check() and the effect of
domain.evolve() for deposits, withdrawals and transfers, without building an event per line
(apply_move), and a block of events applied in one tight loop (apply_block). Pure.

tests/test_guard_rails.py holds apply_move to check() and evolve(): it accepts exactly what
check() accepts and leaves exactly the state evolve() leaves.
"""

from __future__ import annotations

from decimal import Decimal

from ledger_cli.books import State, add_day, low_from, reopened_on
from ledger_cli.dates import local_day
from ledger_cli.domain import check, evolve
from ledger_cli.events import DEPOSITED, TRANSFERRED, WITHDRAWN, EventLike

_DECIMALS: dict[str, Decimal] = {}  # amount text -> value: logs repeat amounts a lot


def apply_block(state: State, events: list[EventLike]) -> tuple[int, str] | None:
    """check() then evolve() every event in order, in one tight loop (the fold's hot path).

    Deposits, withdrawals and transfers go through apply_move(); everything else, and
    every refusal (for its message), goes through check() and evolve(), so the rules stay
    in one place. Returns (index, problem) of the first event that breaks a rule; the state
    then holds everything before it.
    """
    keys = state.keys
    decimals = _DECIMALS
    if len(decimals) > 10_000:
        decimals.clear()
    previous = None
    for index, ev in enumerate(events):
        kind = ev.type
        if kind == DEPOSITED or kind == WITHDRAWN or kind == TRANSFERRED:
            amount_text = ev.amount
            amount = decimals.get(amount_text)  # type: ignore[arg-type]
            if amount is None:
                amount = decimals[amount_text] = Decimal(amount_text)  # type: ignore[arg-type,index]
            date = ev.date
            local = local_day(ev.ts)
            if not apply_move(state, kind, ev.account, ev.to, amount, date or local):  # type: ignore[arg-type]
                return _refusal(state, previous, index, ev)
            if date is not None and date != local:
                state.offday.append((ev.seq, date, kind, ev.account, ev.to, ev.amount))
        else:
            _settle(state, previous)
            problem = check(state, ev)
            if problem is not None:
                return index, problem
            evolve(state, ev)
            previous = ev
            continue
        if ev.key is not None:
            keys[ev.key] = ev.seq
        previous = ev
    _settle(state, previous)
    return None


def apply_move(state: State, kind: str, account: str, to: str | None, amount: Decimal, date: str) -> bool:
    """Apply a deposit, withdrawal or transfer (by its event type) dated `date` to the books,
    if it breaks no rule; False, with `state` untouched, if it does (check() then says which).
    seq, ts, head and keys are the caller's to set."""
    through = state.closed_through
    if through is not None and date <= through:
        return False
    opened, balances, status = state.open, state.balances, state.status
    if kind == DEPOSITED:
        is_open = opened.get(account)
        if is_open is False or (account in status and _before_reopening(status[account], date)):
            return False
        if is_open is None:
            opened[account] = True
            balances[account] = amount
        else:
            balances[account] += amount
        add_day(state, account, amount, date)
        return True
    if opened.get(account) is not True or balances[account] < amount:
        return False
    if account in status and _before_reopening(status[account], date):
        return False
    last = state.last_day.get(account)
    if last is not None and date < last and low_from(state, account, date)[0] < amount:
        return False
    if kind == TRANSFERRED:
        to_open = opened.get(to)  # type: ignore[arg-type]
        if to_open is False or to == account or (to in status and _before_reopening(status[to], date)):
            return False
        balances[account] -= amount
        add_day(state, account, -amount, date)
        if to_open is None:
            opened[to] = True  # type: ignore[index]
            balances[to] = amount  # type: ignore[index]
        else:
            balances[to] += amount  # type: ignore[index]
        add_day(state, to, amount, date)  # type: ignore[arg-type]
        return True
    balances[account] -= amount
    add_day(state, account, -amount, date)
    return True


def _before_reopening(status: list[tuple[str, int, bool]], date: str) -> bool:
    reopened = reopened_on(status)
    return reopened is not None and date < reopened


def _settle(state: State, last: EventLike | None) -> None:
    if last is not None:
        state.seq, state.ts, state.head = last.seq, last.ts, last.hash  # type: ignore[assignment]


def _refusal(state: State, previous: EventLike | None, index: int, ev: EventLike) -> tuple[int, str]:
    _settle(state, previous)
    return index, check(state, ev) or "refused"
