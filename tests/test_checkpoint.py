"""Checkpoints (issue 4, point 4): a derived cache that never changes an answer.

`<log>.cache/` holds `head.json`, periodic `sNNNNNNNNNNNN.json` snapshots and `seal.json`.
These tests observe the cache by wrapping the reader (how many events `LogScan.blocks`
yields) and by reading the cache files; no timing is asserted. Every cached answer is
compared with a fold from the first line (`use_cache=False`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import batch, checkpoint, fold, store
from ledger_cli.config import ledger_at
from ledger_cli.domain import Close, Command, Deposit, Open, Reverse, State, Transfer, Withdraw
from ledger_cli.errors import LogCorrupt, RuleViolation
from ledger_cli.service import Ledger
from ledger_cli.when import Point
from tests.conftest import Runner
from tests.helpers_log import seal as seal_fields

ACCOUNTS = ["acct", "savings", "assets:bank", "assets:cash", "travel"]


# ---- helpers ------------------------------------------------------------------------------


class Clock:
    """A pinned clock: each call is `step` later than the one before."""

    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start or datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
        self.step = step

    def __call__(self) -> str:
        text = self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.now += self.step
        return text


class Ids:
    """Deterministic, valid UUIDs."""

    def __init__(self, base: int = 1) -> None:
        self.n = base << 64

    def __call__(self) -> str:
        self.n += 1
        return str(uuid.UUID(int=self.n, version=4))


class Seen:
    """Counts the events the reader folds, on either path: those the C extension applies
    (by how far it moves seq) and those handed to domain.apply_block."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events = 0
        apply_block = fold.apply_block
        native = fold.native_fold()

        def counted_apply(state: State, events: list[Any]) -> Any:
            self.events += len(events)
            return apply_block(state, events)

        def counted_fold(*args: Any) -> Any:
            result = native(*args)  # type: ignore[misc]
            self.events += result[2] - args[2]
            return result

        monkeypatch.setattr(fold, "apply_block", counted_apply)
        if native is not None:
            monkeypatch.setattr(fold, "native_fold", lambda: counted_fold)

    def take(self) -> int:
        count, self.events = self.events, 0
        return count


def records(n: int, seed: int = 0, *, first: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
    """`n` import records that all pass the ledger rules (a model tracks the balances)."""
    rng = random.Random(seed)
    out = list(first or [])
    balances: dict[str, Decimal] = {}
    is_open: dict[str, bool] = {}
    for record in out:  # the fixed prefix is deposits only
        balances[record["account"]] = balances.get(record["account"], Decimal(0)) + Decimal(record["amount"])
        is_open[record["account"]] = True
    while len(out) < n:
        account = rng.choice(ACCOUNTS)
        roll = rng.random()
        amount = rng.choice(["1", "2.50", "10", "0.01", "7"])
        funded = [a for a in ACCOUNTS if is_open.get(a) and balances[a] >= Decimal(amount)]
        if roll < 0.45 and is_open.get(account, True):
            out.append({"type": "deposit", "account": account, "amount": amount})
            is_open[account] = True
            balances[account] = balances.get(account, Decimal(0)) + Decimal(amount)
        elif roll < 0.65 and funded:
            source = rng.choice(funded)
            out.append({"type": "withdraw", "account": source, "amount": amount})
            balances[source] -= Decimal(amount)
        elif roll < 0.9 and funded:
            source = rng.choice(funded)
            to = rng.choice([a for a in ACCOUNTS if a != source and is_open.get(a, True)] or [source + ":sub"])
            out.append({"type": "transfer", "account": source, "to": to, "amount": amount})
            balances[source] -= Decimal(amount)
            if to not in is_open:
                is_open[to], balances[to] = True, Decimal(0)
            balances[to] += Decimal(amount)
        elif roll < 0.95 and is_open.get(account) and balances[account] == 0:
            out.append({"type": "close", "account": account})
            is_open[account] = False
        elif is_open.get(account) is False:
            out.append({"type": "open", "account": account})
            is_open[account] = True
    return out[:n]


def to_commands(rows: list[dict[str, str]]) -> Iterator[tuple[int, Command]]:
    lines = [json.dumps(row).encode() for row in rows]
    return batch.commands(batch.jsonl_records(lines))


def build(
    path: Path, rows: list[dict[str, str]], *, per_batch: int, use_cache: bool = True, clock: Clock | None = None
) -> Ledger:
    """Import `rows` in batches of `per_batch` (one ts per batch)."""
    ledger = ledger_at(path, use_cache=use_cache, clock=clock or Clock(), new_id=Ids())
    for at in range(0, len(rows), per_batch):
        ledger.import_commands(to_commands(rows[at : at + per_batch]))
    return ledger


FIRST = [{"type": "deposit", "account": "acct", "amount": "100"},
         {"type": "deposit", "account": "acct", "amount": "10"},
         {"type": "deposit", "account": "savings", "amount": "50"}]  # fmt: skip


def view(state: State) -> tuple[Any, ...]:
    """What a read reports: balances, open flags, reversals, seq, head, ts."""
    return state.balances, state.open, state.reversed_by, state.seq, state.head, state.ts


def cache(path: Path) -> Path:
    return Path(checkpoint.folder(str(path)))


def snapshots(path: Path) -> list[Path]:
    return sorted(cache(path).glob("s[0-9]*.json"))


def seal_matches(path: Path) -> bool:
    st_ = os.stat(path)
    recorded = json.loads((cache(path) / "seal.json").read_text())
    return recorded == [st_.st_dev, st_.st_ino, st_.st_size, st_.st_mtime_ns, st_.st_ctime_ns]


def last_hash(path: Path) -> str:
    return json.loads(path.read_bytes().splitlines()[-1])["hash"]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many read blocks and a periodic snapshot every 100 events, on logs of a few thousand."""
    monkeypatch.setattr(store, "CHUNK", 4096)
    monkeypatch.setattr(checkpoint, "EVERY", 100)


# ---- head checkpoint and seal -------------------------------------------------------------


def test_full_read_writes_head_and_seal_and_next_read_folds_nothing(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(log, records(400, seed=1), per_batch=400, use_cache=False)
    assert not cache(log).exists()
    seen = Seen(monkeypatch)
    first = ledger_at(log).state()
    assert seen.take() == 400
    head = json.loads((cache(log) / "head.json").read_text())
    assert (head["seq"], head["hash"], head["offset"]) == (400, last_hash(log), log.stat().st_size)
    assert seal_matches(log)
    second = ledger_at(log).state()
    assert seen.take() == 0  # started from the head checkpoint
    assert second == first  # keys included: the head checkpoint keeps them
    assert view(second) == view(ledger_at(log, use_cache=False).state())


@pytest.mark.parametrize("how", ["copied elsewhere", "written without cache"])
def test_log_without_cache_is_verified_sealed_then_checkpointed(
    tmp_path: Path, log: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "copied elsewhere":
        source = tmp_path / "origin" / "books.jsonl"
        build(source, records(300, seed=2), per_batch=60)
        assert (cache(source) / "head.json").exists() and seal_matches(source)
        log.parent.mkdir(parents=True)
        shutil.copyfile(source, log)
    else:
        build(log, records(300, seed=2), per_batch=60, use_cache=False)
    assert not cache(log).exists()
    seen = Seen(monkeypatch)
    first = ledger_at(log).state()
    assert seen.take() == 300  # every line verified
    assert (cache(log) / "seal.json").exists() and seal_matches(log)
    assert (cache(log) / "head.json").exists()
    again = ledger_at(log).state()
    assert seen.take() == 0  # the regression: the seal was never written, so no read used a checkpoint
    assert again == first
    bounded = ledger_at(log).state(Point("300", seq=300))
    assert view(bounded) == view(first)


# ---- edits are caught whatever the cache holds --------------------------------------------


def _edit_second_line(log: Path, *, rehash: bool) -> tuple[bytes, int]:
    lines = log.read_bytes().splitlines(keepends=True)
    old = lines[1]
    assert old.count(b'"amount":"10"') == 1
    if rehash:
        fields = json.loads(old)
        fields["amount"] = "99"
        new = seal_fields(fields)
    else:
        new = old.replace(b'"amount":"10"', b'"amount":"99"')
    assert len(new) == len(old) and new != old
    lines[1] = new
    return b"".join(lines), 3 if rehash else 2  # a rehashed line 2 breaks the chain at line 3


@pytest.mark.parametrize("restore_mtime", [False, True], ids=["mtime-changed", "mtime-restored"])
@pytest.mark.parametrize("rehash", [False, True], ids=["edited", "edited-rehashed"])
def test_in_place_edit_before_checkpoints_is_caught_by_every_command(
    ledger: Runner, log: Path, small_blocks: None, rehash: bool, restore_mtime: bool
) -> None:
    build(log, records(700, seed=3, first=FIRST), per_batch=100)
    assert ledger("balance").code == 0
    assert ledger("balance", "--until", "450").code == 0
    assert (cache(log) / "head.json").exists() and seal_matches(log) and snapshots(log)
    middle_ts = json.loads(log.read_bytes().splitlines()[400])["ts"]

    before = os.stat(log)
    data, bad = _edit_second_line(log, rehash=rehash)
    fd = os.open(log, os.O_WRONLY)  # in place: same inode, same size
    try:
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)
    if restore_mtime:
        os.utime(log, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(log)
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)

    reads = [
        ["balance"],
        ["balance", "--until", "450"],
        ["balance", "--until", "700"],
        ["replay", "--until", "300"],
        ["replay", "--until", middle_ts],
        ["accounts"],
        ["history", "acct"],
        ["balance", "acct"],
    ]
    writes = [
        ["deposit", "acct", "1"],
        ["deposit", "acct", "1", "-k", "fresh-key"],
        ["withdraw", "acct", "1"],
        ["transfer", "acct", "savings", "1"],
        ["open", "brand-new"],
        ["close", "travel"],
        ["reverse", "1"],
    ]
    for args in [*reads, *writes, ["balance"]]:  # the last read: no failed command sealed the edit
        outcome = ledger(*args)
        assert outcome.code == 3, (args, outcome)
        assert f"line {bad}" in outcome.stderr, (args, outcome.stderr)
        assert log.read_bytes() == data, args
    outcome = ledger("import", "-", input='{"type": "deposit", "account": "acct", "amount": "5"}\n')
    assert outcome.code == 3 and f"line {bad}" in outcome.stderr
    assert log.read_bytes() == data

    for until in [None, Point("450", seq=450), Point("700", seq=700), Point(middle_ts, ts=middle_ts)]:
        with pytest.raises(LogCorrupt) as caught:
            ledger_at(log).state(until)
        assert caught.value.line == bad
    with pytest.raises(LogCorrupt) as caught:
        ledger_at(log).execute(Deposit("acct", Decimal(1)))
    assert caught.value.line == bad
    assert log.read_bytes() == data


# ---- stale or broken checkpoints are ignored ----------------------------------------------


def test_checkpoints_of_a_rewritten_log_are_ignored(log: Path, small_blocks: None) -> None:
    """The log is cut back and rewritten differently by ledger writers: the seal then matches
    the new file, so only the line check (offset + hash) keeps the old checkpoints out."""
    rows = records(900, seed=4)
    build(log, rows, per_batch=100)
    assert ledger_at(log).state().seq == 900
    for k in (150, 420, 777):
        ledger_at(log).state(Point(str(k), seq=k))
    old_cache = {p.name: p.read_bytes() for p in cache(log).iterdir() if p.name != "seal.json"}
    assert "head.json" in old_cache and len(old_cache) > 5

    keep = log.read_bytes().splitlines(keepends=True)[:120]
    with open(log, "r+b") as out:  # truncate, keeping the first 120 lines
        out.truncate(sum(map(len, keep)))
    other = records(1000, seed=5, first=[{"type": "deposit", "account": "acct", "amount": "1000000"}])
    writer = ledger_at(log, clock=Clock(datetime(2025, 6, 1, tzinfo=timezone.utc)), new_id=Ids(7))
    for at in range(0, len(other), 125):
        writer.import_commands(to_commands(other[at : at + 125]))
    writer.execute(Deposit("acct", Decimal("3.25")))
    assert seal_matches(log)
    # Put every old checkpoint back (the seal stays the new log's): none may be used.
    for name, content in old_cache.items():
        (cache(log) / name).write_bytes(content)
    assert seal_matches(log)
    seq = ledger_at(log, use_cache=False).state().seq
    assert seq == 1121

    assert view(ledger_at(log).state()) == view(ledger_at(log, use_cache=False).state())
    rng = random.Random(4)
    points = [0, 1, 119, 120, 121, 150, 420, 777, 900, seq - 1, seq, seq + 5, *rng.sample(range(seq), 40)]
    for k in points:
        for name, content in old_cache.items():  # reads refresh snapshots: restore the stale ones each time
            (cache(log) / name).write_bytes(content)
        cached = ledger_at(log).state(Point(str(k), seq=k))
        assert view(cached) == view(ledger_at(log, use_cache=False).state(Point(str(k), seq=k))), k
    # and a write on top decides on the true state
    for name, content in old_cache.items():
        (cache(log) / name).write_bytes(content)
    ledger_at(log, new_id=Ids(9)).execute(Withdraw("acct", Decimal("999000")))  # only the new log has these funds
    assert view(ledger_at(log).state()) == view(ledger_at(log, use_cache=False).state())


GARBAGE = [b"", b"not json at all", b"\xff\xfe\x00garbage", b"[]", b"null", b"42", b'"text"', b'{"format": 1}',
           b'{"format": 2, "seq": 1}', b'{"format":1,"offset":-5,"line_start":10,"hash":"00","seq":1}',
           b'{"format":1,"offset":99999999999999999999999,"line_start":0,"hash":"ab","seq":1}',
           b'{"format":1,"offset":300,"line_start":"0","hash":null}', b'{"format": 1, "seq": 1']  # fmt: skip


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_checkpoint_files_are_ignored(log: Path, small_blocks: None, garbage: bytes) -> None:
    build(log, records(600, seed=6), per_batch=150)
    ledger_at(log).state()
    ledger_at(log).state(Point("333", seq=333))
    names = ["head.json", *(p.name for p in snapshots(log))]
    assert len(names) > 3 and seal_matches(log)
    for name in names:
        (cache(log) / name).write_bytes(garbage)
    reference = ledger_at(log, use_cache=False)
    for k in [None, 1, 99, 100, 101, 333, 450, 600]:
        until = None if k is None else Point(str(k), seq=k)
        assert view(ledger_at(log).state(until)) == view(reference.state(until)), k
    # the head checkpoint is rebuilt by the full read above
    head = json.loads((cache(log) / "head.json").read_text())
    assert head["seq"] == 600 and head["hash"] == last_hash(log)
    # writes decide on the true state; a garbage seal only means "fold everything"
    (cache(log) / "head.json").write_bytes(garbage)
    (cache(log) / "seal.json").write_bytes(garbage)
    ledger_at(log).execute(Deposit("acct", Decimal("1.5"), key="after-garbage"))
    assert view(ledger_at(log).state()) == view(reference.state())


def test_a_checkpoint_edited_inside_is_ignored_and_a_resealed_one_is_checked_against_the_log(log: Path) -> None:
    """The digest covers the file's body: one changed byte (a balance) and it is ignored."""
    build(log, records(300, seed=12), per_batch=300)
    path = cache(log) / "head.json"
    blob = path.read_bytes()
    data = json.loads(blob)
    account, balance = next(iter(data["balances"].items()))
    forged = blob.replace(f'"{account}":"{balance}"'.encode(), f'"{account}":"{balance}1"'.encode(), 1)
    assert forged != blob and seal_matches(log)
    path.write_bytes(forged)
    assert view(ledger_at(log).state()) == view(ledger_at(log, use_cache=False).state())
    # a forger who recomputes the digest: the line at the checkpoint's offset must still agree
    del data["digest"]
    data["hash"] = "0" * 64
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    path.write_bytes(body[:-1] + b',"digest":"' + hashlib.sha256(body).hexdigest().encode() + b'"}')
    fd = os.open(log, os.O_RDONLY)
    try:
        assert checkpoint._load(str(path), fd) is None
        data["hash"] = json.loads(blob)["hash"]  # the same file with the true hash is taken
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        path.write_bytes(body[:-1] + b',"digest":"' + hashlib.sha256(body).hexdigest().encode() + b'"}')
        assert checkpoint._load(str(path), fd) is not None
    finally:
        os.close(fd)


BODIES = [("seq", 299), ("seq", "300"), ("seq", None), ("ts", 5), ("open", [])]


@pytest.mark.parametrize(("field", "value"), BODIES, ids=[f"{f}={v!r}" for f, v in BODIES])
def test_checkpoint_whose_body_disagrees_with_its_line_is_ignored(log: Path, field: str, value: object) -> None:
    """The line at the recorded offset still ends with the recorded hash, but the body is
    damaged: it must not be trusted, and above all no write may append a bad line after it."""
    build(log, records(300, seed=11), per_batch=300)
    path = cache(log) / "head.json"
    data = json.loads(path.read_text())
    assert data["seq"] == 300 and seal_matches(log)
    data[field] = value
    path.write_text(json.dumps(data))
    assert view(ledger_at(log).state()) == view(ledger_at(log, use_cache=False).state())
    path.write_text(json.dumps(data))
    event, new = ledger_at(log).execute(Deposit("acct", Decimal(1)))
    assert new and event.seq == 301
    report = ledger_at(log).verify()
    assert report.ok, report.problems
    assert report.events == 301


# ---- bounded reads use periodic snapshots -------------------------------------------------


@pytest.mark.parametrize("bulk", [False, True], ids=["line-by-line", "bulk-decoder"])
def test_bounded_reads_with_snapshots_equal_a_fold_from_the_first_line(
    log: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    monkeypatch.setattr(store, "FAST_DECODE_BYTES", 0 if bulk else 1 << 40)
    n = 3000
    clock = Clock()
    build(log, records(n, seed=7), per_batch=40, clock=clock)  # 40 events share each ts
    lines = log.read_bytes().splitlines()
    stamps = sorted({json.loads(line)["ts"] for line in lines[::7]})
    assert ledger_at(log).state().seq == n  # from the head checkpoint the imports left
    assert not snapshots(log)
    assert ledger_at(log).state(Point(str(n), seq=n)).seq == n  # no snapshot yet: a full fold writes them
    assert len(snapshots(log)) >= 10
    seen = Seen(monkeypatch)
    reference = ledger_at(log, use_cache=False)
    rng = random.Random(7)
    ks = [0, 1, 2, 99, 100, 101, 399, 400, 401, n - 1, n, n + 1, 10 * n, *rng.sample(range(n), 120)]
    rng.shuffle(ks)
    cached_events = uncached_events = 0
    for k in ks:
        point = Point(str(k), seq=k)
        cached = ledger_at(log).state(point)
        cached_events += seen.take()
        expected = reference.state(point)
        uncached_events += seen.take()
        assert view(cached) == view(expected), k
        assert cached.seq == min(k, n)
    assert cached_events * 3 < uncached_events  # the snapshots were really used

    def shifted(ts: str, micros: int) -> str:
        moment = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(microseconds=micros)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    bounds = ["1999-01-01T00:00:00.000000Z", "2999-01-01T00:00:00.000000Z", stamps[0], stamps[-1]]
    for ts in rng.sample(stamps, 30):
        bounds += [ts, shifted(ts, -1), shifted(ts, 1)]
    rng.shuffle(bounds)
    for ts in bounds:
        point = Point(ts, ts=ts)
        cached = ledger_at(log).state(point)
        expected = reference.state(point)
        assert view(cached) == view(expected), ts
        assert cached.ts is None or cached.ts <= ts


# ---- writes after checkpoints -------------------------------------------------------------


def test_writes_after_checkpoints_and_idempotency_keys_recorded_before_them(
    log: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = [{"type": "deposit", "account": "acct", "amount": "10", "key": "early-key"}]
    build(log, records(600, seed=8, first=first), per_batch=600)
    head = json.loads((cache(log) / "head.json").read_text())
    assert head["seq"] == 600
    ledger_at(log).state(Point("600", seq=600))  # a bounded read writes the periodic snapshots
    assert snapshots(log)
    seen = Seen(monkeypatch)
    ledger = ledger_at(log, clock=Clock(datetime(2026, 1, 1, tzinfo=timezone.utc)), new_id=Ids(3))

    data = log.read_bytes()
    event, new = ledger.execute(Deposit("acct", Decimal("10.00"), key="early-key"))
    assert (new, event.seq, event.key) == (False, 1, "early-key")
    assert log.read_bytes() == data
    assert seen.take() == 0  # decided from the head checkpoint, which keeps the keys
    with pytest.raises(RuleViolation):
        ledger.execute(Deposit("acct", Decimal("11"), key="early-key"))
    with pytest.raises(RuleViolation):
        ledger.execute(Withdraw("acct", Decimal("10"), key="early-key"))
    assert log.read_bytes() == data

    # Without the head checkpoint (periodic snapshots keep no keys) keys are still honoured.
    (cache(log) / "head.json").unlink()
    event, new = ledger.execute(Deposit("acct", Decimal("10"), key="early-key"))
    assert (new, event.seq) == (False, 1)
    assert seen.take() == 600  # a keyed command refuses a snapshot without keys: full fold
    with pytest.raises(RuleViolation):
        ledger.execute(Deposit("acct", Decimal("12"), key="early-key"))
    assert log.read_bytes() == data

    reference = ledger_at(log, use_cache=False)
    commands: list[Command] = [
        Deposit("acct", Decimal("5"), key="k1"), Open("fresh"), Transfer("acct", "fresh", Decimal("2.5")),
        Withdraw("fresh", Decimal("1")), Reverse(601), Deposit("acct", Decimal("5"), key="k1"),
        Transfer("fresh", "acct", Decimal("1.5")), Close("fresh"), Deposit("savings", Decimal("0.01")),
    ]  # fmt: skip
    monkeypatch.setattr(checkpoint, "HEAD_REFRESH", 3)
    for command in commands:
        ledger.execute(command)
        assert view(ledger_at(log).state()) == view(reference.state()), command
        assert ledger_at(log).state() == reference.state()  # keys too, once the head is rebuilt
    # A write that reaches HEAD_REFRESH events past the checkpoint it started from refreshes it.
    start = json.loads((cache(log) / "head.json").read_text())["seq"]
    refreshed = 0
    for _ in range(7):  # writes only: no read refreshes the head in between
        event, _ = ledger.execute(Deposit("travel", Decimal("1")))
        head = json.loads((cache(log) / "head.json").read_text())
        if event.seq - start >= 3:
            start, refreshed = event.seq, refreshed + 1
        assert head["seq"] == start, event.seq
    assert refreshed >= 2
    assert (head["hash"], head["offset"]) == (last_hash(log), log.stat().st_size) and seal_matches(log)
    seen.take()
    assert ledger_at(log).state() == reference.state()
    assert seen.take() == reference.state().seq  # only the uncached fold read any line
    event, new = ledger.execute(Deposit("acct", Decimal("5"), key="k1"))
    assert not new and event.seq == 601
    event, new = ledger.execute(Deposit("acct", Decimal("10"), key="early-key"))
    assert not new and event.seq == 1


# ---- property: the cache never changes a decision or an answer ----------------------------

AMOUNTS = st.sampled_from([Decimal("1"), Decimal("2.5"), Decimal("10"), Decimal("0.01"), Decimal("40")])
NAMES = st.sampled_from(["a", "b", "c:d"])
KEYS = st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"]))
COMMANDS = st.one_of(
    st.builds(Open, NAMES),
    st.builds(Close, NAMES),
    st.builds(Deposit, NAMES, AMOUNTS, st.none(), KEYS),
    st.builds(Withdraw, NAMES, AMOUNTS, st.none(), KEYS),
    st.builds(Transfer, NAMES, NAMES, AMOUNTS, st.none(), KEYS),
    st.builds(Reverse, st.integers(1, 25)),
)


def _outcome(ledger: Ledger, command: Command) -> object:
    try:
        event, new = ledger.execute(command)
    except RuleViolation as exc:
        return ("refused", str(exc))
    return (event.to_dict(), new)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(COMMANDS, min_size=1, max_size=22), probe=st.randoms(use_true_random=False))
def test_cached_state_equals_uncached_after_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, commands: list[Command], probe: random.Random
) -> None:
    monkeypatch.setattr(checkpoint, "HEAD_REFRESH", 3)
    monkeypatch.setattr(checkpoint, "EVERY", 5)
    monkeypatch.setattr(store, "CHUNK", 700)
    where = tmp_path / uuid.uuid4().hex
    cached = ledger_at(where / "cached.jsonl", clock=Clock(), new_id=Ids())
    plain = ledger_at(where / "plain.jsonl", use_cache=False, clock=Clock(), new_id=Ids())
    for command in commands:
        assert _outcome(cached, command) == _outcome(plain, command), command
        if not os.path.exists(cached.log.path):
            continue
        assert view(ledger_at(cached.log.path).state()) == view(ledger_at(cached.log.path, use_cache=False).state())
        k = probe.randint(0, ledger_at(cached.log.path, use_cache=False).state().seq + 1)
        point = Point(str(k), seq=k)
        assert view(ledger_at(cached.log.path).state(point)) == view(
            ledger_at(cached.log.path, use_cache=False).state(point)
        ), k
    if os.path.exists(plain.log.path):
        assert Path(cached.log.path).read_bytes() == Path(plain.log.path).read_bytes()
        assert cached.verify().ok


# ---- import --------------------------------------------------------------------------------


def test_import_leaves_a_usable_head_checkpoint_and_seal(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = ledger_at(log, clock=Clock(), new_id=Ids())
    rows = records(500, seed=9, first=[{"type": "deposit", "account": "acct", "amount": "10", "key": "imp-1"}])
    recorded, skipped, start = ledger.import_commands(to_commands(rows))
    assert (recorded, skipped, start) == (500, 0, 1)
    head = json.loads((cache(log) / "head.json").read_text())
    assert (head["seq"], head["hash"], head["offset"]) == (500, last_hash(log), log.stat().st_size)
    assert head["keys"] == {"imp-1": 1}
    assert seal_matches(log)

    seen = Seen(monkeypatch)
    state = ledger_at(log).state()
    assert seen.take() == 0
    assert state == ledger_at(log, use_cache=False).state()
    seen.take()

    # a second import on top: decided from the checkpoint, and leaves a new one
    more = records(40, seed=10, first=[{"type": "deposit", "account": "acct", "amount": "10", "key": "imp-1"}])
    recorded, skipped, start = ledger.import_commands(to_commands(more))
    assert (recorded, skipped, start) == (39, 1, 501)
    assert seen.take() == 0
    head = json.loads((cache(log) / "head.json").read_text())
    assert (head["seq"], head["offset"]) == (539, log.stat().st_size)
    assert seal_matches(log)
    assert ledger_at(log).state() == ledger_at(log, use_cache=False).state()
    seen.take()
    assert ledger_at(log).state().seq == 539 and seen.take() == 0
    event, new = ledger.execute(Deposit("acct", Decimal("10"), key="imp-1"))
    assert (new, event.seq) == (False, 1) and seen.take() == 0


TRICKY = ["keys", "keys_bytes", ',"keys_bytes":1', ',"keys":{', '"}', "ключ"]


def test_a_read_of_balances_parses_the_head_around_its_keys_and_a_keyed_write_still_sees_them(log: Path) -> None:
    """The head's keys are most of a keyed log's head.json: a read of balances leaves them out
    (checkpoint._without_keys), and says so, so that neither a writer nor a refresh takes that
    state; names that spell the members around them (accounts and keys called `keys` or
    `,"keys_bytes":1`) do not confuse it."""
    ledger = ledger_at(log, clock=Clock(), new_id=Ids())
    for n, name in enumerate(TRICKY):
        ledger.execute(Deposit(("keys", "keys_bytes")[n % 2], Decimal(n + 1), key=name))
    build(log, records(600, seed=31), per_batch=600)
    path = cache(log) / "head.json"
    assert b',"keys_bytes":' in path.read_bytes()
    fd = os.open(log, os.O_RDONLY)
    try:
        full, skipped = checkpoint._load(str(path), fd), checkpoint._load(str(path), fd, keys_wanted=False)
        assert full is not None and skipped is not None
        assert full[2] is True and skipped[2] is False and skipped[0].keys == {}
        assert set(TRICKY) <= set(full[0].keys)
        assert view(skipped[0]) == view(full[0]) == view(ledger_at(log, use_cache=False).state())
        assert skipped[0].status == full[0].status and skipped[0].opened_on == full[0].opened_on
    finally:
        os.close(fd)
    assert view(ledger_at(log).state(keys=False)) == view(ledger_at(log, use_cache=False).state())
    for n, name in enumerate(TRICKY):  # each retry finds its first event: nothing written twice
        before = log.read_bytes()
        ledger_at(log, clock=Clock(), new_id=Ids()).execute(
            Deposit(("keys", "keys_bytes")[n % 2], Decimal(n + 1), key=name)
        )
        assert log.read_bytes() == before


def test_a_head_whose_keys_size_is_wrong_is_read_whole_or_not_at_all(log: Path) -> None:
    """A resealed head.json whose `keys_bytes` does not frame its keys is parsed whole (or
    refused), never cut in the wrong place."""
    build(log, records(300, seed=32), per_batch=300)
    path = cache(log) / "head.json"
    blob = path.read_bytes()
    body = blob[: -len(b',"digest":"') - 66]
    mark = body.rfind(b',"keys_bytes":')
    for size in (b"0", b"7", b"99999999", b"-3", b"x"):
        forged = body[:mark] + b',"keys_bytes":' + size + b"}"
        path.write_bytes(forged[:-1] + b',"digest":"' + hashlib.sha256(forged).hexdigest().encode() + b'"}')
        assert checkpoint._without_keys(path.read_bytes()) is None
        fd = os.open(log, os.O_RDONLY)
        try:
            loaded = checkpoint._load(str(path), fd, keys_wanted=False)
            if size == b"x":  # not JSON: refused
                assert loaded is None
            else:  # parsed whole: keys and all
                assert loaded is not None and loaded[2] is True
                assert len(loaded[0].keys) == len(json.loads(blob)["keys"])
        finally:
            os.close(fd)
        assert view(ledger_at(log).state(keys=False)) == view(ledger_at(log, use_cache=False).state())
