"""The changes per day of the head checkpoint's books, in a file of their own beside it.

They are the part of the books that grows with the log (an account with entries on 300 days
has 300), and only a backdated debit, a reversal or a report by date needs them, so
`head.json` and the snapshots leave them out and `head.days` holds them: a header line naming
the event it is after (seq and hash, as head.json does) with the SHA-256 of the rest, then one
line per account, `"<account as JSON>"<TAB>{"<day>":"<change>",...}`. Reading it splits the
lines and decodes only the accounts asked for. Like every checkpoint it is a cache: a file
that is missing, damaged or after another event is ignored, and the changes are folded from
the log itself instead (every line verified).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from hashlib import sha256

from ledger_cli.books import Days, DaysLoader, State

NAME = "head.days"
FORMAT = 1


def save(where: str, state: State) -> None:
    """Write the changes per day of `state` (which holds them all) beside its head checkpoint."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    body = "".join(
        f"{dumps(account)}\t{dumps({day: str(change) for day, change in changes.items()})}\n"
        for account, changes in state.days.items()
    ).encode()
    header = dumps({"format": FORMAT, "seq": state.seq, "hash": state.head, "digest": sha256(body).hexdigest()})
    final = os.path.join(where, NAME)
    temporary = os.path.join(where, f".{NAME}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(header.encode() + b"\n")
            out.write(body)
        os.replace(temporary, final)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _changes(raw: bytes) -> dict[str, Decimal]:
    changes = json.loads(raw)
    if not isinstance(changes, dict):
        raise ValueError("not an object")
    return {str(day): Decimal(change) for day, change in changes.items() if isinstance(change, str)}


def loader(log: str, where: str, seq: int, head: str) -> DaysLoader:
    """The changes per day of the books after event `seq` (hash `head`) of `log`: from the file
    beside the checkpoint while it is intact and after that event, else folded from the log."""
    lines: dict[str, bytes] | None = None

    def index() -> dict[str, bytes] | None:
        nonlocal lines
        if lines is None:
            lines = _read(os.path.join(where, NAME), seq, head)
        return lines

    def folded() -> Days:
        from ledger_cli.filelog import FileLog
        from ledger_cli.when import Point

        state = FileLog(log, use_cache=False).books(Point(str(seq), seq=seq))
        if state.seq != seq or state.head != head:  # the log no longer holds that event
            from ledger_cli.errors import StoreError

            raise StoreError(f"{log} changed while it was read; run the command again")
        return state.days

    def account(name: str) -> dict[str, Decimal]:
        found = index()
        if found is None:
            return dict(folded().get(name, {}))
        raw = found.get(name)
        try:
            return {} if raw is None else _changes(raw)
        except (ValueError, ArithmeticError):
            return dict(folded().get(name, {}))

    def everything() -> Days:
        found = index()
        if found is not None:
            try:
                return {name: _changes(raw) for name, raw in found.items()}
            except (ValueError, ArithmeticError):
                pass
        return folded()

    return DaysLoader(account, everything)


def _read(path: str, seq: int, head: str) -> dict[str, bytes] | None:
    """account -> its changes (undecoded) from the file at `path`, if it is intact and after
    event `seq` with hash `head`; None otherwise."""
    try:
        with open(path, "rb") as source:
            blob = source.read()
        end = blob.index(b"\n")
        header = json.loads(blob[:end])
        body = memoryview(blob)[end + 1 :]
        if header != {"format": FORMAT, "seq": seq, "hash": head, "digest": sha256(body).hexdigest()}:
            return None
        found: dict[str, bytes] = {}
        for line in blob[end + 1 :].splitlines():
            name, _, raw = line.partition(b"\t")
            account = json.loads(name)
            if type(account) is not str or not raw:
                return None
            found[account] = raw
        return found
    except (OSError, ValueError):
        return None
