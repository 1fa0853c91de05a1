"""Report data folded from the books: balances, replay digests, account lists, history rows.

Pure: these functions take a State (or events) and return plain data; rendering lives
in render.py and I/O in the store.
"""

from __future__ import annotations

from decimal import Decimal

from ledger_cli.domain import ZERO, State, _Value
from ledger_cli.errors import RuleViolation
from ledger_cli.events import DEPOSITED, REVERSED, TRANSFERRED, WITHDRAWN, EventLike
from ledger_cli.money import money_context
from ledger_cli.values import covers


class AccountRow(_Value):
    __slots__ = _fields = ("account", "balance", "open")
    account: str
    balance: Decimal
    open: bool

    def __init__(self, account: str, balance: Decimal, open: bool) -> None:
        super().__init__(account, balance, open)


class BalanceReport(_Value):
    """Balances at a point: `seq`/`ts`/`head` name the last event applied (0/None for none)."""

    __slots__ = _fields = ("seq", "ts", "head", "rows", "total")
    seq: int
    ts: str | None
    head: str
    rows: list[AccountRow]
    total: Decimal

    def __init__(self, seq: int, ts: str | None, head: str, rows: list[AccountRow], total: Decimal) -> None:
        super().__init__(seq, ts, head, rows, total)


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


def balance_report(state: State, names: list[str] | None = None) -> BalanceReport:
    accounts = matching(state, names or [])
    rows = [AccountRow(account, state.balances[account], state.open[account]) for account in accounts]
    with money_context():
        total = sum((row.balance for row in rows), ZERO)
    return BalanceReport(state.seq, state.ts, state.head, rows, total)


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
