"""The changes per day of the head checkpoint's books, in a file of their own beside it.

They are the part of the books that grows with the log (an account with entries on 300 days
has 300), and only a backdated debit, a reversal or a report by date needs them, so
`head.json` and the snapshots leave them out and `head.days` holds them: a header line naming
the event it is after (seq and hash, as head.json does), the time zone (dates.zone_key) and
the SHA-256 of the rest, then one line per account of the books (those without changes too),
`"<account as JSON>"<TAB><its own check>\t{"<day>":"<change>",...}`. Reading it maps the file,
finds the line of the account asked for, and checks and decodes only that. `head.offday` beside it, with the same
header, holds the off-day entries (books.OffDay) in log order, one a line:
`<seq, 19 digits>\t<date>\t<the latest date up to this line>\t[kind,account,to,amount]`, so that
`--as-of D` finds by bisection the entries recorded after an event and reads the dates of the others
without decoding them (cut()). Like every checkpoint it is a cache: a file that is missing, damaged or
after another event is ignored, and the changes are folded from the log itself instead (every line
verified).
"""

from __future__ import annotations

import json
import mmap
import os
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from decimal import Decimal
from hashlib import sha256

from ledger_cli.books import Days, DaysLoader, OffDay, State
from ledger_cli.dates import zone_key

NAME = "head.days"
OFFDAY = "head.offday"
FORMAT = 2  # (1: no digest on each line)
OFFDAY_FORMAT = 2  # (1: one JSON list)
_SEQ = 19  # digits of a seq in head.offday (any int64)


def save(where: str, state: State) -> None:
    """Write the changes per day and the off-day entries of `state` (which holds them all)
    beside its head checkpoint, a batch of lines at a time (a book of 200k accounts has 200k)."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    days = state.days

    def day_lines() -> Iterator[bytes]:
        batch = []
        for account in state.balances:  # every account has its line: one not found is new or lost
            name = dumps(account).encode()
            changes = days.get(account)
            raw = dumps({day: str(change) for day, change in changes.items()}).encode() if changes else b"{}"
            batch.append(b"%s\t%s\t%s\n" % (name, _digest(name, raw), raw))
            if len(batch) >= _BATCH:
                yield b"".join(batch)
                batch.clear()
        yield b"".join(batch)

    def offday_lines() -> Iterator[bytes]:
        latest = ""
        batch = []
        for seq, date, kind, acct, to, amount in state.offday:
            latest = max(latest, date)
            batch.append(f"{seq:0{_SEQ}d}\t{date}\t{latest}\t{dumps([kind, acct, to, amount])}\n")
            if len(batch) >= _BATCH:
                yield "".join(batch).encode()
                batch.clear()
        yield "".join(batch).encode()

    _write(where, NAME, state, day_lines(), FORMAT)
    _write(where, OFFDAY, state, offday_lines(), OFFDAY_FORMAT)


_BATCH = 4096  # lines written at a time


def _digest(name: bytes, raw: bytes) -> bytes:
    """The check of one line of head.days: an account's line is read and checked alone."""
    return sha256(name + b"\t" + raw).hexdigest()[:32].encode()


def _write(where: str, name: str, state: State, body: Iterable[bytes], form: int) -> None:
    """The file: its header (with the SHA-256 of the body, which is streamed: the header is
    written first with a stand-in digest of the same length, then overwritten), then the body."""
    from ledger_cli.checkpoint import _replace  # (checkpoint imports this module)

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    fields = {"format": form, "seq": state.seq, "hash": state.head, "zone": zone_key()}
    digest = sha256()

    def header(hexdigest: str) -> bytes:
        return dumps({**fields, "digest": hexdigest}).encode() + b"\n"

    def pieces() -> Iterator[bytes]:
        yield header("0" * 64)
        for piece in body:
            digest.update(piece)
            yield piece

    def sign(fd: int) -> None:
        os.pwrite(fd, header(digest.hexdigest()), 0)

    temporary = os.path.join(where, f".{name}.{os.getpid()}")
    _replace(temporary, os.path.join(where, name), pieces(), before=sign)


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

    def offday_lines() -> list[bytes] | None:
        body = _body(os.path.join(where, OFFDAY), seq, head, OFFDAY_FORMAT)
        return None if body is None else body.split(b"\n")[:-1]

    def offday() -> list[OffDay]:
        found = offday_lines()
        if found is not None:
            try:
                return _entries(found)
            except (ValueError, TypeError):
                pass
        return folded().offday

    def cut(date: str, after: int) -> list[OffDay] | None:
        found = offday_lines()
        if found is not None:
            try:
                at = bisect_left(found, b"%0*d" % (_SEQ, after + 1))  # the first line after `after`
                if at and found[at - 1][_SEQ + 12 : _SEQ + 22].decode() > date:
                    return None
                day = date.encode()
                return _entries([line for line in found[at:] if line[_SEQ + 1 : _SEQ + 11] <= day])
            except (ValueError, TypeError):
                pass
        entries = folded().offday
        if any(entry[0] <= after and entry[1] > date for entry in entries):
            return None
        return [entry for entry in entries if entry[0] > after and entry[1] <= date]

    def account(name: str) -> dict[str, Decimal]:
        try:
            raw = _one_line(os.path.join(where, NAME), seq, head, name)  # found, checked and decoded alone
            if raw is not None:
                return _changes(raw)
            found = days_body()  # not there: an account since the checkpoint, or damage
            if found is not None and _line_of(found, name) is None:
                return {}
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

    return DaysLoader(account, everything, offday, cut)


def _entries(lines: list[bytes]) -> list[OffDay]:
    """The off-day entries of lines of head.offday (decoded as one JSON array: fast)."""
    rests = json.loads(b"[" + b",".join(line[_SEQ + 23 :] for line in lines) + b"]")
    entries: list[OffDay] = []
    for line, (kind, account, to, amount) in zip(lines, rests, strict=True):
        fields = (account, to, amount)
        if (
            line[_SEQ : _SEQ + 1] != b"\t"
            or type(kind) is not str
            or any(f is not None and type(f) is not str for f in fields)
        ):
            raise ValueError("not an off-day entry")
        entries.append((int(line[:_SEQ]), line[_SEQ + 1 : _SEQ + 11].decode(), kind, account, to, amount))
    return entries


def _body(path: str, seq: int, head: str, form: int = FORMAT) -> bytes | None:
    """The body of the file at `path`, if it is intact and after event `seq` with hash `head`."""
    try:
        with open(path, "rb") as source:
            blob = source.read()
        end = blob.index(b"\n")
        header = json.loads(blob[:end])
        body = blob[end + 1 :]
        expected = {"format": form, "seq": seq, "hash": head, "zone": zone_key(), "digest": sha256(body).hexdigest()}
        if header != expected:  # (the off-day entries of another zone are others)
            return None
        return body
    except (OSError, ValueError):
        return None


_NAME = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # as save() writes it


def _one_line(path: str, seq: int, head: str, account: str) -> bytes | None:
    """The changes (undecoded) of `account` from its line of head.days, found without reading
    the rest (mmap) and checked by its own digest; None if not found or not sound."""
    try:
        with open(path, "rb") as source, mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as blob:
            end = blob.find(b"\n")
            header = json.loads(blob[:end]) if end > 0 else None
            if not isinstance(header, dict) or {k: header.get(k) for k in ("format", "seq", "hash", "zone")} != {
                "format": FORMAT, "seq": seq, "hash": head, "zone": zone_key()
            }:  # fmt: skip
                return None
            name = _NAME(account).encode()
            at = blob.find(b"\n" + name + b"\t", end)
            stop = blob.find(b"\n", at + 1) if at >= 0 else -1
            if stop < 0:
                return None
            line = blob[at + 1 : stop]
    except (OSError, ValueError):
        return None
    found, digest, raw = line.split(b"\t", 2)
    return raw if found == name and digest == _digest(found, raw) else None


def _line_of(body: bytes, account: str) -> bytes | None:
    """The changes (undecoded) of `account` in the body of head.days, or None if it has none."""
    key = _NAME(account).encode() + b"\t"
    at = 0 if body.startswith(key) else body.find(b"\n" + key) + 1
    if at == 0 and not body.startswith(key):
        return None
    end = body.find(b"\n", at)
    return body[at + len(key) + 33 : end if end >= 0 else len(body)]


def _lines(body: bytes | None) -> dict[str, bytes] | None:
    """account -> its changes (undecoded) from the body of head.days; None if there is none."""
    if body is None:
        return None
    try:
        found: dict[str, bytes] = {}
        for line in body.splitlines():
            name, digest, raw = line.split(b"\t", 2)
            account = json.loads(name)
            if type(account) is not str or not raw or len(digest) != 32:  # (the body's digest holds)
                return None
            found[account] = raw
        return found
    except (OSError, ValueError):
        return None
