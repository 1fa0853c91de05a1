"""The commands a user gives (Open, Deposit, Withdraw, Transfer, Close, Reverse) and the
Stamp decide() is handed: small immutable records. Pure: no I/O.
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

    __slots__ = _fields = ("account", "memo", "key")
    account: str
    memo: str | None
    key: str | None

    def __init__(self, account: str, memo: str | None = None, key: str | None = None) -> None:
        _set(self, "account", account)  # field by field: a batch import makes a million of these
        _set(self, "memo", memo)
        _set(self, "key", key)


class Open(_AccountCommand):
    __slots__ = ()


class Close(_AccountCommand):
    __slots__ = ()


class _AmountCommand(_Value):
    """A command moving an amount into or out of one account."""

    __slots__ = _fields = ("account", "amount", "memo", "key")
    account: str
    amount: Decimal
    memo: str | None
    key: str | None

    def __init__(self, account: str, amount: Decimal, memo: str | None = None, key: str | None = None) -> None:
        _set(self, "account", account)
        _set(self, "amount", amount)
        _set(self, "memo", memo)
        _set(self, "key", key)


class Deposit(_AmountCommand):
    __slots__ = ()


class Withdraw(_AmountCommand):
    __slots__ = ()


class Transfer(_Value):
    __slots__ = _fields = ("source", "to", "amount", "memo", "key")
    source: str
    to: str
    amount: Decimal
    memo: str | None
    key: str | None

    def __init__(self, source: str, to: str, amount: Decimal, memo: str | None = None, key: str | None = None) -> None:
        _set(self, "source", source)
        _set(self, "to", to)
        _set(self, "amount", amount)
        _set(self, "memo", memo)
        _set(self, "key", key)


class Reverse(_Value):
    __slots__ = _fields = ("target", "memo", "key")
    target: int
    memo: str | None
    key: str | None

    def __init__(self, target: int, memo: str | None = None, key: str | None = None) -> None:
        super().__init__(target, memo, key)


Command = Open | Deposit | Withdraw | Transfer | Close | Reverse


class Stamp(_Value):
    """What decide() may not make up itself: the clock's reading and a fresh id."""

    __slots__ = _fields = ("ts", "id")
    ts: str
    id: str

    def __init__(self, ts: str, id: str) -> None:
        super().__init__(ts, id)
