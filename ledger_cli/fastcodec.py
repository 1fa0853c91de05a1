"""A msgspec decoder for long folds; imported only when a read is big enough to repay it.

msgspec's import costs about 30 ms, more than a whole `ledger deposit` on a small log, so
the standard library's json decodes short reads and this module takes over for long ones.
Both accept exactly the same lines (tests/test_codec.py runs them side by side).
"""

from __future__ import annotations

from hashlib import sha256

import msgspec

from ledger_cli.errors import LogCorrupt
from ledger_cli.events import split_line


class FastEvent(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    # Alphabetical: msgspec encodes in declaration order, so this is the canonical order.
    account: str | None = None
    amount: str | None = None
    id: str
    key: str | None = None
    memo: str | None = None
    prev: str
    seq: int
    target: int | None = None
    to: str | None = None
    ts: str
    type: str
    v: int
    hash: str | None = None  # never in the body; set once the line's digest is checked


_decode = msgspec.json.Decoder(FastEvent).decode
_encode = msgspec.json.Encoder().encode


def decode_line(line: bytes, lineno: int) -> FastEvent:
    """Parse, type-check and hash-check one log line (same verdicts as events.decode_line)."""
    body, digest = split_line(line, lineno)
    try:
        ev = _decode(body)
    except msgspec.ValidationError as exc:
        raise LogCorrupt(lineno, f"invalid field ({exc})") from None
    except msgspec.DecodeError as exc:
        raise LogCorrupt(lineno, f"not valid JSON ({exc})") from None
    if ev.hash is not None:
        raise LogCorrupt(lineno, "not in canonical form (hash inside the body)")
    if _encode(ev) != body:
        raise LogCorrupt(lineno, "not in canonical form (duplicate keys, spacing or escapes changed)")
    if sha256(body).hexdigest() != digest:
        raise LogCorrupt(lineno, "hash does not match the event's content (edited?)")
    ev.hash = digest
    return ev
