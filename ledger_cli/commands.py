"""The commands a user gives (Open, Deposit, Withdraw, Transfer, Close, Reverse, ClosePeriod,
ReopenPeriod) and the Stamp decide() is handed: small immutable records. Pure: no I/O.

`date` is the day the event belongs to in the books (contract section 7); None on a command
means "today" (the Stamp's), and an idempotent retry then matches whatever date was recorded.
"""

from __future__ import annotations

from decimal import Decimal

_set = object.__setattr__


class _Value:
    """A small immutable record (dataclasses would import inspect: ~5 ms of start-up).

    `_fields` names the fields in order; a subclass that only renames a record (Open and
    Close are both an account with a memo and a key) declares empty __slots__.
    """

    __slots__: tuple[str, ...] = ()
    _fields: tuple[str, ...] = ()

    def __init__(self, *values: object) -> None:
        """Subclasses pass every field positionally, in `_fields` order."""
        for name, value in zip(self._fields, values):
            _set(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self._fields)

    def __hash__(self) -> int:
        return hash((type(self), *(getattr(self, n) for n in self._fields)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields) + ")"


class _AccountCommand(_Value):
    """A command on one account: open or close it."""

    __slots__ = _fields = ("account", "memo", "key", "date")
    account: str
    memo: str | None
    key: str | None
    date: str | None

    def __init__(self, account: str, memo: str | None = None, key: str | None = None, date: str | None = None) -> None:
        _set(self, "account", account)  # field by field: a batch import makes a million of these
        _set(self, "memo", memo)
        _set(self, "key", key)
        _set(self, "date", date)


class Open(_AccountCommand):
    __slots__ = ()


class Close(_AccountCommand):
    __slots__ = ()


class _AmountCommand(_Value):
    """A command moving an amount into or out of one account."""

    __slots__ = _fields = ("account", "amount", "memo", "key", "date")
    account: str
    amount: Decimal
    memo: str | None
    key: str | None
    date: str | None

    def __init__(
        self, account: str, amount: Decimal, memo: str | None = None, key: str | None = None, date: str | None = None
    ) -> None:
        _set(self, "account", account)
        _set(self, "amount", amount)
        _set(self, "memo", memo)
        _set(self, "key", key)
        _set(self, "date", date)


class Deposit(_AmountCommand):
    __slots__ = ()


class Withdraw(_AmountCommand):
    __slots__ = ()


class Transfer(_Value):
    __slots__ = _fields = ("source", "to", "amount", "memo", "key", "date")
    source: str
    to: str
    amount: Decimal
    memo: str | None
    key: str | None
    date: str | None

    def __init__(
        self,
        source: str,
        to: str,
        amount: Decimal,
        memo: str | None = None,
        key: str | None = None,
        date: str | None = None,
    ) -> None:
        _set(self, "source", source)
        _set(self, "to", to)
        _set(self, "amount", amount)
        _set(self, "memo", memo)
        _set(self, "key", key)
        _set(self, "date", date)


class Reverse(_Value):
    """Undo event `target`; dated, by default, the original's date while that day is open."""

    __slots__ = _fields = ("target", "memo", "key", "date")
    target: int
    memo: str | None
    key: str | None
    date: str | None

    def __init__(self, target: int, memo: str | None = None, key: str | None = None, date: str | None = None) -> None:
        super().__init__(target, memo, key, date)


class _PeriodCommand(_Value):
    """Close the books through `date`, or reopen them from `date` on."""

    __slots__ = _fields = ("date", "memo", "key")
    date: str
    memo: str | None
    key: str | None

    def __init__(self, date: str, memo: str | None = None, key: str | None = None) -> None:
        super().__init__(date, memo, key)


class ClosePeriod(_PeriodCommand):
    __slots__ = ()


class ReopenPeriod(_PeriodCommand):
    __slots__ = ()


Command = Open | Deposit | Withdraw | Transfer | Close | Reverse | ClosePeriod | ReopenPeriod


class Stamp(_Value):
    """What decide() may not make up itself: the clock's reading, a fresh id, and today's
    date in the books' time zone (by default the local date of the clock's reading)."""

    __slots__ = _fields = ("ts", "id", "today")
    ts: str
    id: str
    today: str

    def __init__(self, ts: str, id: str, today: str | None = None) -> None:
        if today is None:
            from ledger_cli.dates import local_day

            today = local_day(ts)
        super().__init__(ts, id, today)
