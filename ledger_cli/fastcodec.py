"""Bulk decoding for long folds with msgspec; imported only when a read is big enough.

msgspec's import costs about 30 ms, more than a whole `ledger deposit` on a small log,
so the standard library's json decodes short reads and this module takes over for long
ones. `verify_block` checks a whole block of lines at once: decode every line in C,
re-encode them all and compare with the block's bytes (one comparison proves every line
canonical, hash last), then per line only the hash, the chain and the value rules.
Whenever it finds anything wrong it returns None, and the reader re-reads that block
line by line with `decode_line`, which names the first bad line. So this fast path
never accepts a line that the line-by-line path would refuse.
"""

from __future__ import annotations

import re
from hashlib import sha256

import msgspec

from ledger_cli.codec import split_line
from ledger_cli.errors import LogCorrupt
from ledger_cli.events import (
    GOOD_SHAPES,
    ID_PATTERN,
    SCHEMA_VERSION,
    TS_PATTERN,
    Event,
    _version_problem,
    date_problem,
    valid_texts,
    value_problem,
)
from ledger_cli.money import all_short_amounts_valid, amount_problem
from ledger_cli.values import account_problem


class FastEvent(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    # Alphabetical, then `hash`: msgspec encodes in declaration order, so encoding an
    # event gives back its log line exactly (canonical body, hash spliced in last).
    account: str | None = None
    amount: str | None = None
    date: str | None = None
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
    hash: str  # a whole line must carry its hash


# Timestamps and ids have a fixed length, so a block's worth joined together matches the
# repeated pattern exactly when every one of them matches on its own.
_ALL_TS = re.compile(f"(?:{TS_PATTERN})*").fullmatch
_ALL_IDS = re.compile(f"(?:{ID_PATTERN})*").fullmatch
_join = "".join

_REOPENING = ("period_reopened", False, False, False, False)
_decode_lines = msgspec.json.Decoder(FastEvent).decode_lines
_encoder = msgspec.json.Encoder()
_encode_lines = _encoder.encode_lines


_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def seal(event: Event) -> bytes:
    """codec.seal(), several times faster: the same bytes for every valid event (sorted keys,
    no whitespace, UTF-8 kept; valid values hold no control characters to escape)."""
    body = _encode_sorted(event.body())
    event.hash = digest = sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}\n'


def decode_line(line: bytes, lineno: int) -> FastEvent:
    """One line (without its newline) through the same decoder and checks as verify_block:
    the tests hold it to the same verdicts as codec.decode_line."""
    body, digest = split_line(line, lineno)
    try:
        decoded = _decode_lines(line + b"\n")
    except msgspec.ValidationError as exc:
        raise LogCorrupt(lineno, f"invalid field ({exc})") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise LogCorrupt(lineno, f"not valid JSON ({exc})") from None
    if len(decoded) != 1 or _encode_lines(decoded) != line + b"\n":
        raise LogCorrupt(lineno, "not in canonical form (duplicate keys, spacing or escapes changed)")
    if sha256(body).hexdigest() != digest:
        raise LogCorrupt(lineno, "hash does not match the event's content (edited?)")
    return decoded[0]


def decode_block(block: bytes) -> tuple[list[FastEvent], list[bytes]] | None:
    """Decode a block that another process is verifying (see Helper); None if it cannot."""
    try:
        events = _decode_lines(block)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None
    lines = block.split(b"\n")
    if len(events) != len(lines) - 1:
        return None
    return events, lines


class Helper:
    """Verify and summarise the byte range [start, end) of a log in a forked process.

    The child checks the range exactly as verify_block does, starting from what its first
    line claims (seq, prev, ts), and reports through a pipe those claims, the range's last
    seq, hash, ts and line, and a summary of its money movements (None if the range holds
    any other kind of event). Meanwhile the parent folds everything before `start`. It then
    takes the summary only if the claims join its own chain and the summary breaks no rule
    from its state (domain.apply_summary); otherwise it folds the range itself.
    """

    def __init__(self, fd: int, start: int, end: int) -> None:
        import os

        self.start, self.end = start, end
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: verify, report, leave without running any cleanup
            try:
                os.close(read)
                os.write(write, _encoder.encode(_verify_range(fd, start, end)))
            finally:
                os._exit(0)
        os.close(write)
        self._read = read

    def cancel(self) -> None:
        """Stop the child (its verdict is not needed) and reap it."""
        import os
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.verdict()

    def verdict(self) -> list[object] | None:
        """[first seq, first prev, first ts, last seq, last hash], or None if anything is off."""
        import os

        try:
            data = b""
            while chunk := os.read(self._read, 65536):
                data += chunk
            os.waitpid(self.pid, 0)
        finally:
            os.close(self._read)
        try:
            result = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return None
        return result if isinstance(result, list) else None

    def outcome(self, seq: int, head: str, ts: str | None) -> list[object] | None:
        """The child's verdict if it verified the range and the range follows (seq, head, ts)."""
        verdict = self.verdict()
        if verdict is None or len(verdict) != 8:
            return None
        first_seq, first_prev, first_ts = verdict[:3]
        if (first_seq, first_prev) != (seq + 1, head) or (ts is not None and str(first_ts) < ts):
            return None
        return verdict


def _verify_range(fd: int, start: int, end: int) -> list[object] | None:
    """[first seq, first prev, first ts, last seq, last hash, last ts, last line start, None].

    The last place once held a summary of the range's movements; effective dates made the
    rules depend on each event's date as well as its order, so the range is folded here."""
    import os

    from ledger_cli.store import CHUNK

    line_start = start

    first = os.pread(fd, min(65536, end - start), start)
    try:
        claim = _decode_lines(first[: first.index(b"\n") + 1])[0]
    except (ValueError, IndexError, msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None
    seq, head, ts = claim.seq - 1, claim.prev, claim.ts
    offset, rest = start, b""
    while offset + len(rest) < end:
        chunk = os.pread(fd, min(CHUNK, end - offset - len(rest)), offset + len(rest))
        if not chunk:
            return None
        block = rest + chunk
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        if not cut:
            continue
        verified = verify_block(block[:cut], seq, head, ts)
        if verified is None:
            return None
        last = verified[0][-1]
        seq, head, ts = last.seq, last.hash, last.ts
        offset += cut
        line_start = offset - len(verified[1][len(verified[0]) - 1]) - 1
    if rest:
        return None
    return [claim.seq, claim.prev, claim.ts, seq, head, ts, line_start, None]


def verify_block(block: bytes, seq: int, head: str, ts: str) -> tuple[list[FastEvent], list[bytes]] | None:
    """The events and lines of `block` (whole lines, each ending in a newline) that follow
    event `seq` with hash `head` and timestamp `ts`, all verified; None if anything is off."""
    try:
        events = _decode_lines(block)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None
    if _encode_lines(events) != block:
        return None
    # Each check below runs over the whole block in one comprehension or one regex, so
    # the per-line cost stays in C as far as possible.
    count = len(events)
    lines = block.split(b"\n")
    if [ev.seq for ev in events] != list(range(seq + 1, seq + count + 1)):
        return None
    hashes = [ev.hash for ev in events]
    if [ev.prev for ev in events] != [head, *hashes[:-1]]:
        return None
    if [sha256(line[:-75] + b"}").hexdigest() for line in lines[:count]] != hashes:
        return None
    stamps = [ev.ts for ev in events]
    if stamps[0] < ts or stamps != sorted(stamps) or _ALL_TS(_join(stamps)) is None:
        return None
    if _ALL_IDS(_join([ev.id for ev in events])) is None:
        return None
    if any(ev.v != SCHEMA_VERSION or ev.date is None for ev in events):  # v1 lines: one by one
        if any(_version_problem(ev) is not None for ev in events):  # type: ignore[arg-type]
            return None
    for date, day in {(ev.date, ev.ts[:10]) for ev in events if ev.date is not None}:
        if date_problem(date, day + "T00:00:00.000000Z") is not None:
            return None
    shapes = {
        (e.type, e.account is not None, e.amount is not None, e.to is not None, e.target is not None) for e in events
    }
    if not shapes <= GOOD_SHAPES:
        return None
    if _REOPENING in shapes and any(ev.type == _REOPENING[0] and ev.memo is None for ev in events):
        return None  # a reopening needs its reason
    accounts, amounts = valid_texts()
    fresh_accounts: set[str] = {a for ev in events for a in (ev.account, ev.to) if a is not None} - accounts
    fresh_amounts: set[str] = {ev.amount for ev in events if ev.amount is not None} - amounts
    for account in fresh_accounts:  # a name or amount is checked once, then remembered
        if account_problem(account) is not None:
            return None
        accounts.add(account)
    if len(amounts) > 20_000:
        amounts.clear()
    if all_short_amounts_valid(list(fresh_amounts)):
        amounts.update(fresh_amounts)
    else:
        for amount in fresh_amounts:
            if amount_problem(amount) is not None:
                return None
            amounts.add(amount)
    for ev in events:
        if (ev.memo is not None or ev.key is not None) and value_problem(ev) is not None:  # type: ignore[arg-type]
            return None
    return events, lines


class RowColumns(msgspec.Struct):
    """What a database row holds beside its line (pgwrite); the rest of the line is skipped."""

    seq: int
    id: str
    ts: str
    prev: str
    hash: str
    key: str | None = None
    target: int | None = None


_row_columns = msgspec.json.Decoder(list[RowColumns]).decode


def row_columns(lines: list[bytes]) -> list[RowColumns]:
    """The columns of sealed lines (without their newlines), decoded as one array; ValueError
    (msgspec's errors are ValueErrors) when one is not a sealed event's line."""
    return _row_columns(b"[" + b",".join(lines) + b"]")


def events_of(block: bytes) -> list[FastEvent]:
    """The events of verified lines joined by newlines (a walk's `lines=True` pieces), decoded
    in one call: for exports, which visit every event of a long log."""
    return _decode_lines(block)


def hash_of(line: bytes) -> str:
    """The hash member of a sealed line (without its newline): it is the line's last member."""
    return line[-66:-2].decode("ascii", "replace") if line.endswith(b'"}') else ""


def schema_versions(path: str) -> list[int]:
    """The schema versions of the lines of a log file: a sealed line ends `"v":N,"hash":"…"}`,
    so a search per version over the bytes finds them (no line is decoded)."""
    found: set[int] = set()
    marks = {1: b'"v":1,"hash":"', 2: b'"v":2,"hash":"'}
    try:
        with open(path, "rb") as log:
            tail = b""
            while len(found) < len(marks):
                chunk = log.read(1 << 20)
                if not chunk:
                    break
                window = tail + chunk
                found.update(v for v, mark in marks.items() if v not in found and mark in window)
                tail = window[-16:]
    except FileNotFoundError:
        pass
    return sorted(found)
