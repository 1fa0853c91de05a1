"""The event types, their JSON line form and the canonical hash (contract section 2).

A line is the canonical JSON of the event without `hash` (sorted keys, no whitespace,
UTF-8 kept), with `,"hash":"<sha256 of that canonical text>"` spliced in before the
closing brace. So a reader can hash the line's own bytes instead of re-serialising,
and a third-party verifier that re-serialises the object gets the same digest.
"""

from __future__ import annotations

import json
import re
from hashlib import sha256

from ledger_cli.errors import LogCorrupt
from ledger_cli.money import amount_problem
from ledger_cli.values import account_problem, key_problem, memo_problem

TYPE_CHECKING = False  # typing itself costs start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any


SCHEMA_VERSION = 1
GENESIS = "0" * 64

OPENED = "account_opened"
DEPOSITED = "deposited"
WITHDRAWN = "withdrawn"
TRANSFERRED = "transferred"
CLOSED = "account_closed"
REVERSED = "reversed"
MOVEMENTS = frozenset({DEPOSITED, WITHDRAWN, TRANSFERRED})

# Field order is alphabetical: it is the canonical (sorted-key) order.
FIELDS = ("account", "amount", "id", "key", "memo", "prev", "seq", "target", "to", "ts", "type", "v")
_FIELD_TYPES: dict[str, type] = {
    "account": str, "amount": str, "id": str, "key": str, "memo": str, "prev": str,
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
}
EVENT_TYPES = frozenset(_SHAPES)

_HASH_MARK = b',"hash":"'
_SUFFIX_LEN = len(_HASH_MARK) + 64 + 2  # ,"hash":"<64 hex>"}
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
        v: int = SCHEMA_VERSION,
        hash: str | None = None,
    ) -> None:
        self.type = type
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


def canonical(fields: dict[str, Any]) -> bytes:
    """The canonical form of contract section 2: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(event: Event) -> bytes:
    """Compute the event's hash (set on it) and return its log line, newline included."""
    body = canonical(event.body())
    event.hash = sha256(body).hexdigest()
    return body[:-1] + _HASH_MARK + event.hash.encode() + b'"}\n'


def _text(value: str) -> str:
    """A JSON string in canonical form. Valid values hold no control characters, so only a
    quote or a backslash needs escaping, and then json.dumps does it."""
    if '"' in value or "\\" in value:
        return json.dumps(value, ensure_ascii=False)
    return f'"{value}"'


def movement_line(
    kind: str,
    seq: int,
    id: str,
    ts: str,
    prev: str,
    account: str,
    to: str | None,
    amount: str,
    memo: str | None,
    key: str | None,
) -> tuple[bytes, str]:
    """The sealed log line (and hash) of a deposit, withdrawal or transfer with valid values:
    seal() without building an Event, for batch imports. The tests hold the two to the same
    bytes."""
    body = (
        f'{{"account":"{account}","amount":"{amount}","id":"{id}"'
        + ("" if key is None else ',"key":' + _text(key))
        + ("" if memo is None else ',"memo":' + _text(memo))
        + f',"prev":"{prev}","seq":{seq}'
        + ("" if to is None else f',"to":"{to}"')
        + f',"ts":"{ts}","type":"{kind}","v":{SCHEMA_VERSION}}}'
    ).encode()
    digest = sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}\n', digest


def line_of(event: Event) -> bytes:
    """A sealed event's log line, without its newline (its recorded hash, not recomputed)."""
    return canonical(event.body())[:-1] + _HASH_MARK + str(event.hash).encode() + b'"}'


def line_position(line: bytes) -> tuple[int, str]:
    """(seq, ts) of a verified line. After `prev`, a line holds no free text (seq, target, to,
    ts, type, v, hash), so the last `"seq":` and `"ts":` are its own."""
    at = line.rindex(b',"seq":') + 7
    seq = int(line[at : line.index(b",", at)])
    at = line.rindex(b',"ts":"') + 7
    return seq, line[at : at + 27].decode()


def with_member(line: bytes, name: str, text: str) -> bytes:
    """A line with one more string member after `hash` (history adds the running balance)."""
    return line[:-1] + b',"' + name.encode() + b'":"' + text.encode() + b'"}'


def verified_event(line: bytes) -> Event:
    """The Event of a line (without its newline) that the fold has just verified, these very
    bytes: decoded without checking it all again."""
    return Event(**json.loads(line))


def split_line(line: bytes, lineno: int) -> tuple[bytes, str]:
    """A line (without its newline) cut into the canonical body and the hash it claims."""
    if len(line) <= _SUFFIX_LEN or line[-_SUFFIX_LEN:-66] != _HASH_MARK or line[-2:] != b'"}':
        raise LogCorrupt(lineno, 'not a ledger event: no trailing "hash" field')
    return line[:-_SUFFIX_LEN] + b"}", line[-66:-2].decode("ascii", "replace")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def decode_line(line: bytes, lineno: int) -> Event:
    """Parse, type-check and hash-check one log line with the standard library."""
    body, digest = split_line(line, lineno)
    try:
        fields = json.loads(body, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise LogCorrupt(lineno, f"not valid JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise LogCorrupt(lineno, "not a JSON object")
    for name, value in fields.items():
        expected = _FIELD_TYPES.get(name)
        if expected is None:
            raise LogCorrupt(lineno, f"unknown field {name!r}")
        if type(value) is not expected:
            raise LogCorrupt(lineno, f"field {name!r} must be a JSON {expected.__name__}")
    missing = _ALWAYS - fields.keys()
    if missing:
        raise LogCorrupt(lineno, f"missing field {sorted(missing)[0]!r}")
    try:
        canonical_body = canonical(fields)
    except UnicodeEncodeError:  # a lone surrogate, from an escape or from bad UTF-8
        raise LogCorrupt(lineno, "a string holds an invalid Unicode surrogate") from None
    if canonical_body != body:
        raise LogCorrupt(lineno, "not in canonical form (duplicate keys, spacing or escapes changed)")
    if sha256(body).hexdigest() != digest:
        raise LogCorrupt(lineno, "hash does not match the event's content (edited?)")
    return Event(**fields, hash=digest)


_account_ok: set[str] = set()  # account names already validated (a log has few distinct ones)
_amount_ok: set[str] = set()  # likewise for amount texts, bounded below

# (type, has account, has amount, has to, has target) for every well-formed event.
GOOD_SHAPES = frozenset(
    [(OPENED, True, False, False, False), (CLOSED, True, False, False, False)]
    + [(kind, True, True, False, False) for kind in (DEPOSITED, WITHDRAWN)]
    + [(TRANSFERRED, True, True, True, False)]
    + [(REVERSED, account, True, to, True) for account, to in ((True, True), (True, False), (False, True))]
)


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
    if ev.v != SCHEMA_VERSION:
        if isinstance(ev.v, int) and ev.v > SCHEMA_VERSION:
            return f"schema version {ev.v} is newer than this ledger knows (v{SCHEMA_VERSION}); upgrade ledger"
        return f"unknown schema version {ev.v!r}"
    account, amount, to = ev.account, ev.amount, ev.to
    if (ev.type, account is not None, amount is not None, to is not None, ev.target is not None) not in GOOD_SHAPES:
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
