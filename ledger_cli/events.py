"""The events: their types and fields (contract section 2), the shapes and values a valid
event has, the record the store and the fold move (`Event`, amounts as exact decimal text), and
one immutable typed class per event type with Decimal amounts (`typed`).

Their line form, the canonical JSON and its hash, is codec's alone.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ledger_cli.dates import is_day, local_day, shift
from ledger_cli.money import amount_problem
from ledger_cli.values import account_problem, key_problem, memo_problem

TYPE_CHECKING = False  # typing itself costs start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any


SCHEMA_VERSION = 2  # v2 (contract section 7): every event carries its `date`
VERSIONS = (1, 2)  # v1 lines stay valid forever: their date is the local date of their ts
GENESIS = "0" * 64

OPENED = "account_opened"
DEPOSITED = "deposited"
WITHDRAWN = "withdrawn"
TRANSFERRED = "transferred"
CLOSED = "account_closed"
REVERSED = "reversed"
PERIOD_CLOSED = "period_closed"
PERIOD_REOPENED = "period_reopened"
PERIODS = frozenset({PERIOD_CLOSED, PERIOD_REOPENED})
MOVEMENTS = frozenset({DEPOSITED, WITHDRAWN, TRANSFERRED})

# Field order is alphabetical: it is the canonical (sorted-key) order.
FIELDS = ("account", "amount", "date", "id", "key", "memo", "prev", "seq", "target", "to", "ts", "type", "v")
_FIELD_TYPES: dict[str, type] = {
    "account": str, "amount": str, "date": str, "id": str, "key": str, "memo": str, "prev": str,
    "seq": int, "target": int, "to": str, "ts": str, "type": str, "v": int,
}  # fmt: skip
_ALWAYS = frozenset({"id", "prev", "seq", "ts", "type", "v"})
# For each type: the fields it must have, and the optional ones it may have.
_SHAPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    OPENED: (frozenset({"account"}), frozenset({"memo", "key"})),
    DEPOSITED: (frozenset({"account", "amount"}), frozenset({"memo", "key"})),
    WITHDRAWN: (frozenset({"account", "amount"}), frozenset({"memo", "key"})),
    TRANSFERRED: (frozenset({"account", "to", "amount"}), frozenset({"memo", "key"})),
    CLOSED: (frozenset({"account"}), frozenset({"memo", "key"})),
    REVERSED: (frozenset({"target", "amount"}), frozenset({"account", "to", "memo", "key"})),
    PERIOD_CLOSED: (frozenset(), frozenset({"memo", "key"})),
    PERIOD_REOPENED: (frozenset({"memo"}), frozenset({"key"})),
}
EVENT_TYPES = frozenset(_SHAPES)

TS_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
ID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TS_FORMAT = re.compile(TS_PATTERN)
ID_FORMAT = re.compile(ID_PATTERN)


if TYPE_CHECKING:
    from typing import Protocol

    class EventLike(Protocol):
        """What the fold reads of an event; both the stdlib and the msgspec decoders provide it."""

        account: str | None
        amount: str | None
        date: str | None
        id: str
        key: str | None
        memo: str | None
        prev: str
        seq: int
        target: int | None
        to: str | None
        ts: str
        type: str
        v: int
        hash: str | None
else:
    EventLike = object


class Event:
    """One recorded fact. `hash` is None until the event is sealed into a line."""

    __slots__ = (*FIELDS, "hash")

    def __init__(
        self,
        *,
        type: str,
        seq: int,
        id: str,
        ts: str,
        prev: str,
        account: str | None = None,
        to: str | None = None,
        amount: str | None = None,
        memo: str | None = None,
        key: str | None = None,
        target: int | None = None,
        date: str | None = None,
        v: int = SCHEMA_VERSION,
        hash: str | None = None,
    ) -> None:
        self.type = type
        self.date = date
        self.seq = seq
        self.id = id
        self.ts = ts
        self.prev = prev
        self.account = account
        self.to = to
        self.amount = amount
        self.memo = memo
        self.key = key
        self.target = target
        self.v = v
        self.hash = hash

    def __repr__(self) -> str:
        return f"Event({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def body(self) -> dict[str, Any]:
        """The event's fields without `hash`, empty optional fields left out."""
        return {name: value for name in FIELDS if (value := getattr(self, name)) is not None}

    def to_dict(self) -> dict[str, Any]:
        """The event as it stands in the log, `hash` included when sealed."""
        fields = self.body()
        if self.hash is not None:
            fields["hash"] = self.hash
        return fields


def as_event(ev: EventLike, digest: str) -> Event:
    """A plain Event from any decoded event and its digest."""
    return Event(**{name: getattr(ev, name) for name in FIELDS}, hash=digest)


_account_ok: set[str] = set()  # account names already validated (a log has few distinct ones)
_amount_ok: set[str] = set()  # likewise for amount texts, bounded below

# (type, has account, has amount, has to, has target) for every well-formed event.
GOOD_SHAPES = frozenset(
    [(OPENED, True, False, False, False), (CLOSED, True, False, False, False)]
    + [(kind, True, True, False, False) for kind in (DEPOSITED, WITHDRAWN)]
    + [(TRANSFERRED, True, True, True, False)]
    + [(REVERSED, account, True, to, True) for account, to in ((True, True), (True, False), (False, True))]
    + [(PERIOD_CLOSED, False, False, False, False), (PERIOD_REOPENED, False, False, False, False)]
)
V1_TYPES = frozenset({OPENED, DEPOSITED, WITHDRAWN, TRANSFERRED, CLOSED, REVERSED})


def date_of(ev: EventLike) -> str:
    """The day an event belongs to in the books: its `date`, or for a v1 event (which has
    none) the local calendar date of its ts."""
    return ev.date or local_day(ev.ts)


_date_ok: set[str] = set()  # date + ts day pairs already found good, bounded below


def valid_texts() -> tuple[set[str], set[str]]:
    """The account names and amount texts already found valid (value_problem adds to them)."""
    return _account_ok, _amount_ok


def _shape_problem(ev: EventLike) -> str:
    """The message for an event whose set of fields is wrong for its type."""
    shape = _SHAPES.get(ev.type)
    if shape is None:
        return f"unknown event type {ev.type!r}"
    required, optional = shape
    for name in ("account", "amount", "key", "memo", "target", "to"):
        present = getattr(ev, name) is not None
        if present and name not in required and name not in optional:
            return f"field {name!r} does not belong to a {ev.type} event"
        if not present and name in required:
            return f"a {ev.type} event needs the field {name!r}"
    return "a reversed event needs 'account' or 'to'"


def event_problem(ev: EventLike) -> str | None:
    """Why a decoded event breaks the log format's rules, or None (formats and values)."""
    if TS_FORMAT.fullmatch(ev.ts) is None:
        return f"timestamp {ev.ts!r} is not UTC ISO 8601 with microseconds and Z"
    if ID_FORMAT.fullmatch(ev.id) is None:
        return f"id {ev.id!r} is not a UUID"
    return value_problem(ev)


def value_problem(ev: EventLike) -> str | None:
    """Why an event's version, fields, accounts, amount, memo or key are not valid, or None.

    This runs on every line of every read, so the common case is a few set lookups;
    `prev` needs no format check because the reader compares it for equality with the
    previous line's verified hash (or the all-zero genesis value). The formats of `ts`
    and `id` are checked by event_problem() or, in bulk, by the msgspec decoder.
    """
    date = ev.date
    if ev.v != SCHEMA_VERSION or date is None:
        problem = _version_problem(ev)
        if problem is not None:
            return problem
    elif (day_ts := date + ev.ts[:10]) not in _date_ok:
        problem = date_problem(date, ev.ts)
        if problem is not None:
            return problem
        if len(_date_ok) > 20_000:
            _date_ok.clear()
        _date_ok.add(day_ts)
    account, amount, to = ev.account, ev.amount, ev.to
    if (ev.type, account is not None, amount is not None, to is not None, ev.target is not None) not in GOOD_SHAPES:
        return _shape_problem(ev)
    if ev.type == PERIOD_REOPENED and ev.memo is None:  # the one type that needs a memo
        return _shape_problem(ev)
    if account is not None and account not in _account_ok:
        if (problem := account_problem(account)) is not None:
            return problem
        _account_ok.add(account)
    if to is not None and to not in _account_ok:
        if (problem := account_problem(to)) is not None:
            return problem
        _account_ok.add(to)
    if amount is not None and amount not in _amount_ok:
        if (problem := amount_problem(amount)) is not None:
            return problem
        if len(_amount_ok) > 20_000:
            _amount_ok.clear()
        _amount_ok.add(amount)
    if ev.memo is not None and (problem := memo_problem(ev.memo)) is not None:
        return problem
    if ev.key is not None and (problem := key_problem(ev.key)) is not None:
        return problem
    return None


def _version_problem(ev: EventLike) -> str | None:
    """Why an event's version and `date` do not go together, or None (a v1 event)."""
    if ev.v not in VERSIONS or type(ev.v) is not int:
        if isinstance(ev.v, int) and ev.v > SCHEMA_VERSION:
            return f"schema version {ev.v} is newer than this ledger knows (v{SCHEMA_VERSION}); upgrade ledger"
        return f"unknown schema version {ev.v!r}"
    if ev.v == SCHEMA_VERSION:
        return "a v2 event needs the field 'date'"
    if ev.date is not None:
        return "field 'date' does not belong to a v1 event (v2 brought it)"
    if ev.type not in V1_TYPES:
        return f"a {ev.type} event is v2 (it needs a date)"
    return None


def date_problem(date: str, ts: str) -> str | None:
    """Why `date` cannot be the date of an event recorded at `ts`, or None: it must be a real
    calendar day, and no later than the day after ts's UTC date (a writer east of UTC may be
    a day ahead of it; no writer dates an event after its own today)."""
    if not is_day(date):
        return f"date {date!r} is not a real calendar date (YYYY-MM-DD)"
    if TS_FORMAT.fullmatch(ts) is not None and date > shift(ts[:10], 1):
        return f"date {date} is after the day it was recorded ({ts})"
    return None


# ---- typed events ----------------------------------------------------------------------------
# One immutable class per event type, amounts as Decimal: what reports and exports work with.
# The fold and the stores move `Event` records (amounts as their exact decimal text, which the
# hash covers), and type one only where it is used: `typed(event)`.


class _Typed:
    """`date` is always set: a v1 event's is derived from its ts (see date_of), which is what
    the upcaster of v1 gives (codec.UPCASTERS)."""

    __slots__ = ("seq", "id", "ts", "date", "prev", "hash", "memo", "key")
    type: str = ""
    _own: tuple[str, ...] = ()
    seq: int
    id: str
    ts: str
    date: str
    prev: str
    hash: str | None
    memo: str | None
    key: str | None

    def __init__(self, ev: EventLike) -> None:
        put = object.__setattr__
        for name in (*_Typed.__slots__, *self._own):
            value = getattr(ev, name)
            put(self, name, Decimal(value) if name == "amount" else value)
        put(self, "date", date_of(ev))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        names = (*_Typed.__slots__, *self._own)
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in names)

    def __hash__(self) -> int:
        return hash((type(self), self.seq, self.hash))

    def __repr__(self) -> str:
        own = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._own)
        return f"{type(self).__name__}(seq={self.seq}, {own})"


class AccountOpened(_Typed):
    __slots__ = _own = ("account",)
    type = OPENED
    account: str


class AccountClosed(_Typed):
    __slots__ = _own = ("account",)
    type = CLOSED
    account: str


class Deposited(_Typed):
    __slots__ = _own = ("account", "amount")
    type = DEPOSITED
    account: str
    amount: Decimal


class Withdrawn(_Typed):
    __slots__ = _own = ("account", "amount")
    type = WITHDRAWN
    account: str
    amount: Decimal


class Transferred(_Typed):
    __slots__ = _own = ("account", "to", "amount")
    type = TRANSFERRED
    account: str
    to: str
    amount: Decimal


class Reversed(_Typed):
    """Undoes event `target`: money flows from `account` (if any) to `to` (if any)."""

    __slots__ = _own = ("target", "account", "to", "amount")
    type = REVERSED
    target: int
    account: str | None
    to: str | None
    amount: Decimal


class PeriodClosed(_Typed):
    """The books are closed through `date` (inclusive)."""

    __slots__ = _own = ()
    type = PERIOD_CLOSED


class PeriodReopened(_Typed):
    """The books are open again from `date` on (closed through the day before); `memo` says why."""

    __slots__ = _own = ()
    type = PERIOD_REOPENED


TypedEvent = (
    AccountOpened | AccountClosed | Deposited | Withdrawn | Transferred | Reversed | PeriodClosed | PeriodReopened
)
TYPED: dict[str, type[TypedEvent]] = {
    cls.type: cls
    for cls in (
        AccountOpened, AccountClosed, Deposited, Withdrawn, Transferred, Reversed, PeriodClosed, PeriodReopened,
    )
}  # fmt: skip


def typed(ev: EventLike) -> TypedEvent:
    """The typed, immutable form of a recorded (valid) event."""
    return TYPED[ev.type](ev)
