"""Derived checkpoints: the state after event N, with N's byte offset and hash.

A checkpoint is a cache beside the log (`<log>.cache/`), never a source of truth: it is
used only while the log still holds event N, with the recorded hash, ending at the
recorded offset; anything else makes it ignored (and rebuilt). `verify` and --no-cache
never read it. Failures to write one are silent: a read-only folder just means no cache.

A checkpoint lets a read skip the lines before it, so an edit there would go unseen. The
seal closes that gap: after every append (and after every full verified fold) the
`seal.json` records the log's inode, size, mtime and ctime. Checkpoints are trusted only
while the log's stat still matches the seal, i.e. nobody but a ledger writer touched the
file since it was last verified; otherwise every line is folded and verified again.
"""

from __future__ import annotations

import json
import os
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from hashlib import sha256
from itertools import islice

from ledger_cli import dayfile
from ledger_cli.books import ensure_days
from ledger_cli.codec import decode_line
from ledger_cli.dates import zone_key
from ledger_cli.domain import State
from ledger_cli.errors import LedgerError
from ledger_cli.events import Event
from ledger_cli.store import Cursor
from ledger_cli.when import Point

FORMAT = 5  # 2: the digest is the hash of the body; 3: the books by date; 4: first opens dated, days beside;
# 5: the head's keys last, their size after them (a read that needs no keys parses around them)
EVERY = 1_000  # a snapshot for bounded reads every this many events (or more: see interval)
HEAD_REFRESH = 256  # rewrite the head checkpoint when a fold passed this many new events


def interval(state: State) -> int:
    """Events between snapshots: at least EVERY, and at least one per account, so that the
    snapshots of a log take space in proportion to it."""
    return max(EVERY, len(state.balances))


def folder(log: str) -> str:
    return log + ".cache"


def _name(seq: int, ts: str | None) -> str:
    """`s<seq>-<ts digits>.json`: a bounded read picks its snapshot by name, loading one file."""
    return f"s{seq:012d}-{_digits(ts or '')}.json"


def _digits(ts: str) -> str:
    return ts.replace("-", "").replace(":", "").replace(".", "")


def save(log: str, state: State, cursor: Cursor, *, head: bool) -> None:
    """Write a checkpoint of `state`, the books after event state.seq, whose line starts at
    cursor.line_start and ends at cursor.offset. The file is written as it is serialised, a
    few thousand accounts at a time: memory does not grow with a second copy of the books."""
    where = folder(log)
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
        if head:  # the changes per day go beside it, at the same event: both or neither
            if not ensure_days(state):
                return
            dayfile.save(where, state)
        name = "head.json" if head else _name(state.seq, state.ts)
        _replace(os.path.join(where, f".{name}.{os.getpid()}"), os.path.join(where, name), _blob(state, cursor, head))
    except OSError:
        pass


_BATCH = 4096  # accounts serialised at a time


def _members(items: Iterator[tuple[str, object]]) -> Iterator[str]:
    """The members of a JSON object, without its braces, a batch of items at a time."""
    first = True
    while batch := dict(islice(items, _BATCH)):
        yield ("" if first else ",") + _dumps(batch)[1:-1]
        first = False


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _blob(state: State, cursor: Cursor, head: bool) -> Iterator[bytes]:
    """The checkpoint file in pieces: its JSON body with the digest of the body spliced in last."""
    fields: dict[str, object] = {"format": FORMAT, "seq": state.seq, "offset": cursor.offset}
    fields.update({"line_start": cursor.line_start, "hash": state.head, "ts": state.ts, "zone": zone_key()})
    fields.update({"closed_through": state.closed_through, "closed_seq": state.closed_seq, "periods": state.periods})

    def body() -> Iterator[str]:
        yield _dumps(fields)[:-1] + ',"balances":{'
        yield from _members((account, str(balance)) for account, balance in state.balances.items())
        yield '},"open":{'
        yield from _members(iter(state.open.items()))
        yield '},"reversed_by":{'
        yield from _members((str(target), by) for target, by in state.reversed_by.items())
        yield '},"last_day":{'
        yield from _members(iter(state.last_day.items()))
        yield '},"status":{'
        yield from _members(iter(state.status.items()))
        yield '},"opened_on":{'
        yield from _members(iter(state.opened_on.items()))
        yield "}"

    def keys() -> Iterator[str]:
        yield ',"keys":{'
        yield from _members(iter(state.keys.items()))
        yield "}"

    digest = sha256()
    for piece in body():
        data = piece.encode()
        digest.update(data)
        yield data
    size = 0
    for piece in keys() if head else (',"keys":null',):
        data = piece.encode()
        size += len(data)
        digest.update(data)
        yield data
    if head:  # the size of the keys' member, so that a read without keys can parse around them
        data = b',"keys_bytes":%d' % size
        digest.update(data)
        yield data
    digest.update(b"}")
    yield _DIGEST_MARK + digest.hexdigest().encode() + b'"}'


def _replace(temporary: str, final: str, blob: Iterable[bytes], *, before: Callable[[int], None] | None = None) -> None:
    """Write `blob` to `temporary`, then rename it over `final`; a failure leaves no temporary
    behind (a full disk must not pile up `.seal.<pid>` files). `before` gets the descriptor
    once everything is written, before the rename (to sign what was streamed)."""
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in blob:
                out.write(piece)
            out.flush()
            if before is not None:
                before(out.fileno())
        os.replace(temporary, final)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def stat_key(log_fd: int) -> list[int]:
    """What the seal records of the log: any write or edit by anyone changes it."""
    st = os.fstat(log_fd)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def sealed(log: str, log_fd: int) -> bool:
    """Whether the log is exactly as a ledger writer (or a full verified fold) left it."""
    try:
        with open(os.path.join(folder(log), "seal.json"), encoding="utf-8") as source:
            return bool(json.load(source) == stat_key(log_fd))
    except (OSError, ValueError):
        return False


def seal(log: str, log_fd: int, before: list[int] | None = None) -> None:
    """Record the log's stat as verified; with `before`, only if the log did not change since."""
    key = stat_key(log_fd)
    if before is not None and key != before:
        return
    where = folder(log)
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
        blob = json.dumps(key).encode()
        _replace(os.path.join(where, f".seal.{os.getpid()}"), os.path.join(where, "seal.json"), (blob,))
    except OSError:
        pass


# A checkpoint file is its JSON body with `,"digest":"<sha256 of the body>"` spliced in last, as
# a log line carries its hash: damage to the file makes it ignored, and checking costs one hash.
_DIGEST_MARK = b',"digest":"'
_DIGEST_SUFFIX = len(_DIGEST_MARK) + 64 + 2


def _intact(blob: bytes) -> bool:
    """Whether a checkpoint file's digest matches its body."""
    if len(blob) <= _DIGEST_SUFFIX or blob[-_DIGEST_SUFFIX:-66] != _DIGEST_MARK or blob[-2:] != b'"}':
        return False
    return sha256(blob[:-_DIGEST_SUFFIX] + b"}").hexdigest().encode() == blob[-66:-2]


def _is_map(value: object, keys: type, values: type) -> bool:
    return isinstance(value, dict) and all(type(k) is keys and type(v) is values for k, v in value.items())


def _line_at(log_fd: int, start: int, end: int, seq: int) -> Event | None:
    """The event of the whole line of the log at bytes [start, end), if there is one there
    (hash-checked; LogCorrupt if the line is bad)."""
    line = os.pread(log_fd, end - start, start)
    if len(line) != end - start or not line.endswith(b"\n") or b"\n" in line[:-1]:
        return None
    if start > 0 and os.pread(log_fd, 1, start - 1) != b"\n":
        return None
    return decode_line(line[:-1], seq)


def _without_keys(blob: bytes) -> bytes | None:
    """An intact head checkpoint's JSON with its keys' member left out (they are most of a
    keyed log's head and a read of balances never looks at them), or None if it has none."""
    body = blob[:-_DIGEST_SUFFIX]
    mark = body.rfind(b',"keys_bytes":')  # the last member but the digest: nothing after it can hold it
    if mark < 0:
        return None
    size = body[mark + 14 :]
    if not size.isdigit() or not 0 < int(size) <= mark or body[mark - int(size) : mark - int(size) + 9] != b',"keys":{':
        return None
    return body[: mark - int(size)] + b"}"


def _load(
    path: str, log_fd: int, log: str | None = None, *, keys_wanted: bool = True
) -> tuple[State, Cursor, bool] | None:
    """A checkpoint whose content is intact and whose event is still in the log, or None.
    Without `keys_wanted`, the head's keys are not read, and the flag says they are not complete."""
    if log is None:
        log = os.path.dirname(path).removesuffix(".cache")
    try:
        with open(path, "rb") as source:
            blob = source.read()
        if not _intact(blob):
            return None
        skipped = None if keys_wanted else _without_keys(blob)
        data = json.loads(blob if skipped is None else skipped)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        seq, offset, start, digest, ts = data["seq"], data["offset"], data["line_start"], data["hash"], data["ts"]
        keys = data["keys"] if skipped is None else {}
        if data["zone"] != zone_key():  # v1 events' dates and the off-day entries are another zone's
            return None
        if not (
            all(type(n) is int for n in (seq, offset, start))
            and 0 <= start < offset
            and seq >= 1
            and type(digest) is str
            and type(ts) is str
            and _is_map(data["balances"], str, str)
            and _is_map(data["open"], str, bool)
            and data["open"].keys() == data["balances"].keys()
            and _is_map(data["reversed_by"], str, int)
            and (keys is None or _is_map(keys, str, int))
        ):
            return None
        event = _line_at(log_fd, start, offset, seq)  # the event itself must agree with the checkpoint
        if event is None or (event.seq, event.ts, event.hash) != (seq, ts, digest):
            return None
        balances = {account: Decimal(balance) for account, balance in data["balances"].items()}
        if not all(balance.is_finite() for balance in balances.values()):
            return None
        status = {
            account: [(str(d), int(s), bool(o)) for d, s, o in entries] for account, entries in data["status"].items()
        }
        periods = [(int(s), str(kind), str(d)) for s, kind, d in data["periods"]]
        through = data["closed_through"]
        if through is not None and type(through) is not str or type(data["closed_seq"]) is not int:
            return None
        if not _is_map(data["last_day"], str, str) or not _is_map(data["opened_on"], str, str):
            return None
        state = State(
            balances=balances,
            open=data["open"],
            reversed_by={int(target): by for target, by in data["reversed_by"].items()},
            keys=keys if keys is not None else {},
            seq=seq,
            ts=ts,
            head=digest,
            last_day=data["last_day"],
            status=status,
            closed_through=through,
            closed_seq=data["closed_seq"],
            periods=periods,
            opened_on=data["opened_on"],
        )
        state.days_known = state.offday_known = False
        if keys is not None:  # the head: its changes per day are beside it (or in the log)
            state.days_loader = dayfile.loader(log, os.path.dirname(path), seq, digest)
        return state, Cursor(offset, seq, digest, ts, start), keys is not None and skipped is None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError, LedgerError):
        return None


_HEAD = re.compile(
    rb'\{"format":%d,"seq":([0-9]+),"offset":([0-9]+),"line_start":([0-9]+),"hash":"([0-9a-f]{64})"' % FORMAT
)


class Snapshots:
    """Line starts known from the snapshots of a sealed log, for finding an event (a reversal's
    target, a key's event) without reading the log from its start: `before(seq)` is where the
    line after the newest snapshot before `seq` starts, and that line's number, or None. A
    snapshot counts only if it is intact and the log still holds its event where it says."""

    def __init__(self, log: str, log_fd: int) -> None:
        self.log = log
        self.fd = log_fd
        self.names: dict[int, str] = {}  # snapshot seq -> its file's name
        self.checked: dict[int, int | None] = {}  # snapshot seq -> where the next line starts
        if sealed(log, log_fd):
            try:
                names = os.listdir(folder(log))
            except OSError:
                names = []
            self.names = {int(name[1:13]): name for name in names if name.startswith("s") and name[1:13].isdigit()}
        self.seqs = sorted(self.names)

    def before(self, seq: int) -> tuple[int, int] | None:
        for k in range(bisect_left(self.seqs, seq) - 1, -1, -1):
            at = self.seqs[k]
            if at not in self.checked:
                self.checked[at] = self._end_of(at)
            end = self.checked[at]
            if end is not None:
                return end, at + 1
        return None

    def _end_of(self, at: int) -> int | None:
        try:
            with open(os.path.join(folder(self.log), self.names[at]), "rb") as source:
                blob = source.read()
            found = _HEAD.match(blob) if _intact(blob) else None
            if found is None:
                return None
            snap, offset, start = (int(found.group(k)) for k in (1, 2, 3))
            if snap != at or not 0 <= start < offset:
                return None
            event = _line_at(self.fd, start, offset, at)
            return offset if event is not None and (event.seq, event.hash) == (at, found.group(4).decode()) else None
        except (OSError, ValueError, LedgerError):
            return None


def best(
    log: str, log_fd: int, until: Point | None, *, need_keys: bool, keys_wanted: bool = True
) -> tuple[State, Cursor, bool] | None:
    """The newest usable checkpoint at or before `until` (None: fold from the start).

    The flag says whether the state's idempotency keys are complete (only the head
    checkpoint keeps them); `need_keys` refuses a checkpoint without them, and without
    `keys_wanted` (a read of balances) the head's are not even read.
    """
    where = folder(log)
    if not sealed(log, log_fd):
        return None
    if until is None:
        loaded = _load(os.path.join(where, "head.json"), log_fd, log, keys_wanted=keys_wanted or need_keys)
        if loaded is not None and (loaded[2] or not need_keys):
            return loaded
        if need_keys:
            return None
    try:
        names = sorted((name for name in os.listdir(where) if name.startswith("s")), reverse=True)
    except OSError:
        return None
    bound = _digits(until.ts) if until is not None and until.ts is not None else None
    for name in names:
        try:
            seq = int(name[1:13])
        except ValueError:
            continue
        if until is not None and until.seq is not None and seq > until.seq:
            continue
        if bound is not None and name[14:-5] > bound:
            continue
        loaded = _load(os.path.join(where, name), log_fd, log)
        if loaded is None:
            continue
        if until is not None and until.ts is not None and (loaded[1].ts or "") > until.ts:
            continue
        if until is None:  # in place of the head, for a writer too: its changes per day from the log
            loaded[0].days_loader = dayfile.loader(log, where, loaded[0].seq, loaded[0].head)
        return loaded
    return None
