"""The codec: the only place a log line is built or parsed (contract section 2).

A line is the canonical JSON of the event without `hash` (sorted keys, no whitespace,
UTF-8 kept), with `,"hash":"<sha256 of that canonical text>"` spliced in before the
closing brace. So a reader can hash the line's own bytes instead of re-serialising,
and a third-party verifier that re-serialises the object gets the same digest.

Accelerators stand behind it, held to the same bytes and verdicts by the tests: fastcodec
(msgspec, for long reads) and the C extension (the fold, and sealing imported movements).

Schema versions: a line keeps the version it was written with (its hash covers it), and so
does its decoded Event: an Event is the recorded fact, byte for byte. A reader that wants every
event at SCHEMA_VERSION brings an older one's fields up with `upcast`, through the upcasters
registered in UPCASTERS (version -> the function turning its fields into the next version's):
v1 -> v2 adds the `date` a v1 event means (the local date of its ts, events.date_of).
"""

from __future__ import annotations

import json
from hashlib import sha256

from ledger_cli.dates import local_day
from ledger_cli.errors import LogCorrupt
from ledger_cli.events import _ALWAYS, _FIELD_TYPES, SCHEMA_VERSION, Event, event_problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

_HASH_MARK = b',"hash":"'
_SUFFIX_LEN = len(_HASH_MARK) + 64 + 2  # ,"hash":"<64 hex>"}


def _v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "date": local_day(fields["ts"]), "v": 2}


UPCASTERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def upcast(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a decoded line brought up to SCHEMA_VERSION (unchanged if already there,
    or if no upcaster knows its version: the value rules then name it)."""
    version = fields.get("v")
    while isinstance(version, int) and version < SCHEMA_VERSION and version in UPCASTERS:
        fields = UPCASTERS[version](fields)
        if fields.get("v") != version + 1:
            raise ValueError(f"the upcaster of v{version} must give v{version + 1}")
        version += 1
    return fields


def canonical(fields: dict[str, Any]) -> bytes:
    """The canonical form of contract section 2: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(event: Event) -> bytes:
    """Compute the event's hash (set on it) and return its log line, newline included."""
    body = canonical(event.body())
    event.hash = sha256(body).hexdigest()
    return body[:-1] + _HASH_MARK + event.hash.encode() + b'"}\n'


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


_V1_END = b',"v":1' + _HASH_MARK


def dated_line(line: bytes) -> bytes:
    """A verified line (without its newline) as history shows it: a v1 line gains the `date`
    it means (events.date_of) after its hash; a v2 line has its own and stays as it is."""
    if line[-_SUFFIX_LEN - 6 : -_SUFFIX_LEN + 9] != _V1_END:
        return line
    seq_ts = line_position(line)
    return with_member(line, "date", local_day(seq_ts[1]))


def dated_lines(lines: bytes) -> bytes:
    """dated_line() of each of verified lines joined by newlines (one search when none is v1)."""
    if _V1_END not in lines:
        return lines
    return b"\n".join(dated_line(line) for line in lines.split(b"\n"))


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
    date: str,
) -> tuple[bytes, str]:
    """The sealed log line (and hash) of a deposit, withdrawal or transfer with valid values:
    seal() without building an Event, for batch imports. The tests hold the two to the same
    bytes."""
    body = (
        f'{{"account":"{account}","amount":"{amount}","date":"{date}","id":"{id}"'
        + ("" if key is None else ',"key":' + _text(key))
        + ("" if memo is None else ',"memo":' + _text(memo))
        + f',"prev":"{prev}","seq":{seq}'
        + ("" if to is None else f',"to":"{to}"')
        + f',"ts":"{ts}","type":"{kind}","v":{SCHEMA_VERSION}}}'
    ).encode()
    digest = sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}\n', digest


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


def seal_chain(head: tuple[int, str, str | None], events: Sequence[Event]) -> list[bytes]:
    """The sealed lines of `events` (their hashes set), or LogCorrupt if they do not continue
    `head` (seq, hash, ts): seq, prev, ts order, formats and values. Every store seals a
    batch with this, so nothing is written before the whole batch passes."""
    seq, prev, ts = head
    lines = []
    for event in events:
        seq += 1
        if event.seq != seq:
            raise LogCorrupt(event.seq, f"seq is {event.seq}, expected {seq}")
        if event.prev != prev:
            raise LogCorrupt(seq, "prev is not the hash of the event before (a fork)")
        if ts is not None and event.ts < ts:
            raise LogCorrupt(seq, f"ts {event.ts} is earlier than the event before ({ts})")
        problem = event_problem(event)
        if problem is not None:
            raise LogCorrupt(seq, problem)
        lines.append(seal(event))
        prev, ts = event.hash or "", event.ts
    return lines
