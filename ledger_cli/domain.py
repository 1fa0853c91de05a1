"""The ledger's rules: State, decide() and evolve(). Pure: no clock, no ids, no I/O.

`decide(command, state, stamp)` returns the events a command records (none for an
idempotent retry) or raises RuleViolation. `evolve(state, event)` applies a recorded
fact. `check(state, event)` holds every rule once: decide() refuses a candidate
event that check() faults, and replaying the log runs check() on every recorded event,
so the rules a writer enforces are exactly the rules `verify` audits.
"""

from __future__ import annotations

from decimal import Decimal

# The commands live in commands.py; they are named here too, beside the rules that take them.
from ledger_cli.commands import Close, Command, Deposit, Open, Reverse, Stamp, Transfer, Withdraw, _Value
from ledger_cli.errors import RuleViolation
from ledger_cli.events import (
    CLOSED,
    DEPOSITED,
    GENESIS,
    MOVEMENTS,
    OPENED,
    REVERSED,
    TRANSFERRED,
    WITHDRAWN,
    Event,
    EventLike,
)
from ledger_cli.money import format_amount

ZERO = Decimal(0)
__all__ = [  # what domain re-exports from commands (its own names are public too)
    "Close",
    "Command",
    "Deposit",
    "Open",
    "Reverse",
    "Stamp",
    "Transfer",
    "Withdraw",
    "_Value",
]


class State:
    """The books after `seq` events: balances, which accounts are open, what is reversed."""

    __slots__ = ("balances", "open", "reversed_by", "keys", "seq", "ts", "head")

    def __init__(
        self,
        balances: dict[str, Decimal] | None = None,
        open: dict[str, bool] | None = None,
        reversed_by: dict[int, int] | None = None,
        keys: dict[str, int] | None = None,
        seq: int = 0,
        ts: str | None = None,
        head: str = GENESIS,
    ) -> None:
        self.balances = {} if balances is None else balances
        self.open = {} if open is None else open  # account -> still open?
        self.reversed_by = {} if reversed_by is None else reversed_by  # target seq -> reversal seq
        self.keys = {} if keys is None else keys  # idempotency key -> seq
        self.seq = seq
        self.ts = ts
        self.head = head

    def __eq__(self, other: object) -> bool:
        return isinstance(other, State) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "State(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


# ---- rules ---------------------------------------------------------------------------------


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


def check(state: State, ev: EventLike) -> str | None:
    """Why recording `ev` on top of `state` breaks a ledger rule, or None."""
    kind = ev.type
    if kind == DEPOSITED:
        return _destination_problem(state, ev.account)  # type: ignore[arg-type]
    if kind == WITHDRAWN:
        return _source_problem(state, ev.account, Decimal(ev.amount))  # type: ignore[arg-type]
    if kind == TRANSFERRED:
        if ev.account == ev.to:
            return f"cannot transfer from {ev.account} to itself"
        source, to, amount = str(ev.account), str(ev.to), Decimal(str(ev.amount))
        return _source_problem(state, source, amount) or _destination_problem(state, to)
    if kind == OPENED:
        return f"account {ev.account} is already open" if state.open.get(ev.account) else None  # type: ignore[arg-type]
    if kind == CLOSED:
        return _close_problem(state, ev.account)  # type: ignore[arg-type]
    if kind == REVERSED:
        return _reversal_problem(state, ev)
    return f"unknown event type {kind!r}"


def _close_problem(state: State, account: str) -> str | None:
    is_open = state.open.get(account)
    if is_open is None:
        return f"unknown account {account}"
    if not is_open:
        return f"account {account} is already closed"
    balance = state.balances[account]
    if balance != 0:
        return f"account {account} has a balance of {format_amount(balance)}; only an account at zero can be closed"
    return None


def _reversal_problem(state: State, ev: EventLike) -> str | None:
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
        problem = _source_problem(state, ev.account, amount)
        if problem is not None:
            return f"reversing event {target} would fail: {problem}"
    if ev.to is not None:
        if ev.to not in state.open:
            return f"reversing event {target} would fail: unknown account {ev.to}"
        problem = _destination_problem(state, ev.to)
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
    return None


# ---- evolve ---------------------------------------------------------------------------------


def evolve(state: State, ev: EventLike) -> State:
    """Apply a recorded fact to `state` (in place, for speed) and return it. Never validates."""
    kind = ev.type
    balances = state.balances
    if kind == DEPOSITED:
        account = ev.account
        if account not in state.open:
            state.open[account] = True  # type: ignore[index]
            balances[account] = ZERO  # type: ignore[index]
        balances[account] += Decimal(ev.amount)  # type: ignore[index,arg-type]
    elif kind == WITHDRAWN:
        balances[ev.account] -= Decimal(ev.amount)  # type: ignore[index,arg-type]
    elif kind == TRANSFERRED:
        amount = Decimal(ev.amount)  # type: ignore[arg-type]
        balances[ev.account] -= amount  # type: ignore[index]
        to = ev.to
        if to not in state.open:
            state.open[to] = True  # type: ignore[index]
            balances[to] = ZERO  # type: ignore[index]
        balances[to] += amount  # type: ignore[index]
    elif kind == OPENED:
        state.open[ev.account] = True  # type: ignore[index]
        balances.setdefault(ev.account, ZERO)  # type: ignore[arg-type]
    elif kind == CLOSED:
        state.open[ev.account] = False  # type: ignore[index]
    elif kind == REVERSED:
        amount = Decimal(ev.amount)  # type: ignore[arg-type]
        if ev.account is not None:
            balances[ev.account] -= amount
        if ev.to is not None:
            balances[ev.to] += amount
        state.reversed_by[ev.target] = ev.seq  # type: ignore[index]
    if ev.key is not None:
        state.keys[ev.key] = ev.seq
    state.seq = ev.seq
    state.ts = ev.ts
    state.head = ev.hash  # type: ignore[assignment]
    return state


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
            if not apply_move(state, kind, ev.account, ev.to, amount):  # type: ignore[arg-type]
                return _refusal(state, previous, index, ev)
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


def apply_move(state: State, kind: str, account: str, to: str | None, amount: Decimal) -> bool:
    """Apply a deposit, withdrawal or transfer (by its event type) to the balances, if it breaks
    no rule; False, with `state` untouched, if it does (check() then says which). The hot path
    of folds and batch imports: the same rules as check(), without building an event first.
    seq, ts, head and keys are the caller's to set."""
    opened, balances = state.open, state.balances
    if kind == DEPOSITED:
        is_open = opened.get(account)
        if is_open is False:
            return False
        if is_open is None:
            opened[account] = True
            balances[account] = amount
        else:
            balances[account] += amount
        return True
    if opened.get(account) is not True or balances[account] < amount:
        return False
    if kind == TRANSFERRED:
        to_open = opened.get(to)  # type: ignore[arg-type]
        if to_open is False or to == account:
            return False
        balances[account] -= amount
        if to_open is None:
            opened[to] = True  # type: ignore[index]
            balances[to] = amount  # type: ignore[index]
        else:
            balances[to] += amount  # type: ignore[index]
        return True
    balances[account] -= amount
    return True


def apply_summary(
    state: State,
    change: dict[str, Decimal],
    low: dict[str, Decimal],
    first: dict[str, str],
    keys: dict[str, int],
) -> bool:
    """Apply a summarised run of deposits, withdrawals and transfers; False (and `state`
    untouched) unless applying them one by one would have broken no rule.

    For each account the run gives its total `change`, its `low` (the lowest running sum
    right after a withdrawal, relative to the start) and whether it was `first` touched by a
    "credit" or a "debit". That is enough to decide every rule check() makes on such events:
    no closed account touched, no unknown account debited, no balance below zero.
    """
    balances, opened = state.balances, state.open
    for account, kind in first.items():
        is_open = opened.get(account)
        if is_open is False or (is_open is None and kind == "debit"):
            return False
        if account in low and balances.get(account, ZERO) + low[account] < 0:
            return False
    for account, amount in change.items():
        if account in opened:
            balances[account] += amount
        else:
            opened[account] = True
            balances[account] = amount
    state.keys.update(keys)
    return True


def _settle(state: State, last: EventLike | None) -> None:
    if last is not None:
        state.seq, state.ts, state.head = last.seq, last.ts, last.hash  # type: ignore[assignment]


def _refusal(state: State, previous: EventLike | None, index: int, ev: EventLike) -> tuple[int, str]:
    _settle(state, previous)
    return index, check(state, ev) or "refused"


# ---- decide --------------------------------------------------------------------------------


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
    if isinstance(command, Open):
        return Event(type=OPENED, account=command.account, **base)  # type: ignore[arg-type]
    if isinstance(command, Close):
        return Event(type=CLOSED, account=command.account, **base)  # type: ignore[arg-type]
    if isinstance(command, Deposit):
        return Event(type=DEPOSITED, account=command.account, amount=format_amount(command.amount), **base)  # type: ignore[arg-type]
    if isinstance(command, Withdraw):
        return Event(type=WITHDRAWN, account=command.account, amount=format_amount(command.amount), **base)  # type: ignore[arg-type]
    if isinstance(command, Transfer):
        return Event(
            type=TRANSFERRED, account=command.source, to=command.to,
            amount=format_amount(command.amount), **base,  # type: ignore[arg-type]
        )  # fmt: skip
    assert isinstance(command, Reverse)
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
        amount=original.amount, **base,  # type: ignore[arg-type]
    )  # fmt: skip


def same_payload(command: Command, recorded: EventLike) -> bool:
    """Whether `recorded` is what `command` would record (an idempotent retry)."""
    if isinstance(command, Reverse):
        return (recorded.type, recorded.target, recorded.memo) == (REVERSED, command.target, command.memo)
    probe = _candidate(command, State(), Stamp(ts=recorded.ts, id=recorded.id), None)
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
    """The events `command` records on top of `state`, or RuleViolation.

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
