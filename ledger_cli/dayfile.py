"""The changes per day of the head checkpoint's books, in a file of their own beside it.

They are the part of the books that grows with the log (an account with entries on 300 days
has 300), and only a backdated debit, a reversal or a report by date needs them, so
`head.json` and the snapshots leave them out and `head.days` holds them: a header line naming
the event it is after (seq and hash, as head.json does) with the SHA-256 of the rest, then one
line per account, `"<account as JSON>"<TAB>{"<day>":"<change>",...}`. Reading it finds
the line of the account asked for and decodes only that. `head.offday` beside it, with the same header,
holds the off-day entries (books.OffDay) as one JSON list. Like every checkpoint it is a cache: a file
that is missing, damaged or after another event is ignored, and the changes are folded from
the log itself instead (every line verified).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from hashlib import sha256

from ledger_cli.books import Days, DaysLoader, OffDay, State

NAME = "head.days"
OFFDAY = "head.offday"
FORMAT = 1


def save(where: str, state: State) -> None:
    """Write the changes per day and the off-day entries of `state` (which holds them all)
    beside its head checkpoint."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    body = "".join(
        f"{dumps(account)}\t{dumps({day: str(change) for day, change in changes.items()})}\n"
        for account, changes in state.days.items()
    ).encode()
    _write(where, NAME, state, body)
    _write(where, OFFDAY, state, dumps(state.offday).encode())


def _write(where: str, name: str, state: State, body: bytes) -> None:
    from ledger_cli.checkpoint import _replace  # (checkpoint imports this module)

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    header = dumps({"format": FORMAT, "seq": state.seq, "hash": state.head, "digest": sha256(body).hexdigest()})
    temporary = os.path.join(where, f".{name}.{os.getpid()}")
    _replace(temporary, os.path.join(where, name), (header.encode() + b"\n", body))


def _changes(raw: bytes) -> dict[str, Decimal]:
    changes = json.loads(raw)
    if not isinstance(changes, dict):
        raise ValueError("not an object")
    return {str(day): Decimal(change) for day, change in changes.items() if isinstance(change, str)}


def loader(log: str, where: str, seq: int, head: str) -> DaysLoader:
    """The changes per day of the books after event `seq` (hash `head`) of `log`: from the file
    beside the checkpoint while it is intact and after that event, else folded from the log."""
    body: bytes | None = None
    read = False
    whole: State | None = None

    def days_body() -> bytes | None:
        nonlocal body, read
        if not read:
            body, read = _body(os.path.join(where, NAME), seq, head), True
        return body

    def folded() -> State:
        nonlocal whole
        if whole is not None:
            return whole
        from ledger_cli.filelog import FileLog
        from ledger_cli.when import Point

        whole = state = FileLog(log, use_cache=False).books(Point(str(seq), seq=seq), dated=True)
        if state.seq != seq or state.head != head:  # the log no longer holds that event
            from ledger_cli.errors import StoreError

            raise StoreError(f"{log} changed while it was read; run the command again")
        return state

    def offday() -> list[OffDay]:
        body = _body(os.path.join(where, OFFDAY), seq, head)
        try:
            entries = json.loads(body) if body is not None else None
            if isinstance(entries, list) and all(isinstance(e, list) and len(e) == 6 for e in entries):
                return [(int(s), str(d), str(k), a, t, m) for s, d, k, a, t, m in entries]
        except (ValueError, TypeError):
            pass
        return folded().offday

    def account(name: str) -> dict[str, Decimal]:
        found = days_body()
        try:
            if found is not None:  # its line alone is found and decoded
                raw = _line_of(found, name)
                return {} if raw is None else _changes(raw)
        except (ValueError, ArithmeticError):
            pass
        return dict(folded().days.get(name, {}))

    def everything() -> Days:
        found = _lines(days_body())
        if found is not None:
            try:
                return {name: _changes(raw) for name, raw in found.items()}
            except (ValueError, ArithmeticError):
                pass
        return folded().days

    return DaysLoader(account, everything, offday)


def _body(path: str, seq: int, head: str) -> bytes | None:
    """The body of the file at `path`, if it is intact and after event `seq` with hash `head`."""
    try:
        with open(path, "rb") as source:
            blob = source.read()
        end = blob.index(b"\n")
        header = json.loads(blob[:end])
        body = blob[end + 1 :]
        if header != {"format": FORMAT, "seq": seq, "hash": head, "digest": sha256(body).hexdigest()}:
            return None
        return body
    except (OSError, ValueError):
        return None


_NAME = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # as save() writes it


def _line_of(body: bytes, account: str) -> bytes | None:
    """The changes (undecoded) of `account` in the body of head.days, or None if it has none."""
    key = _NAME(account).encode() + b"\t"
    at = 0 if body.startswith(key) else body.find(b"\n" + key) + 1
    if at == 0 and not body.startswith(key):
        return None
    end = body.find(b"\n", at)
    return body[at + len(key) : end if end >= 0 else len(body)]


def _lines(body: bytes | None) -> dict[str, bytes] | None:
    """account -> its changes (undecoded) from the body of head.days; None if there is none."""
    if body is None:
        return None
    try:
        found: dict[str, bytes] = {}
        for line in body.splitlines():
            name, _, raw = line.partition(b"\t")
            account = json.loads(name)
            if type(account) is not str or not raw:
                return None
            found[account] = raw
        return found
    except (OSError, ValueError):
        return None
