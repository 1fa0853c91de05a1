"""The two-core fold: a forked helper verifies the far part of a long log while the reader folds.

The helper is an accelerator only: whatever it finds (or fails to report), the answer must be
exactly the one-process answer. These tests force the helper onto small logs. The helper
serves the pure-Python reader only (where the C extension is not built), so they turn the
extension off.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import accel, fold, store
from ledger_cli.config import ledger_at
from ledger_cli.domain import Close, Deposit, Open, Reverse, Transfer, Withdraw
from ledger_cli.errors import LedgerError, LogCorrupt
from ledger_cli.when import Point
from tests.helpers_log import seal as reseal


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Fork a helper for every read, with small blocks; records the ranges it was given."""
    monkeypatch.setattr(accel, "_found", [None])
    monkeypatch.setattr(fold, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(store, "CHUNK", 4096)
    monkeypatch.setattr(store, "FAST_DECODE_BYTES", 0)
    ranges: list[tuple[int, int]] = []
    original = fold._start_helper

    def spy(fd: int, cursor: store.Cursor):  # type: ignore[no-untyped-def]
        helper = original(fd, cursor)
        if helper is not None:
            ranges.append((helper.start, helper.end))
        return helper

    monkeypatch.setattr(fold, "_start_helper", spy)
    return ranges


def write_log(path: Path, count: int = 300) -> None:
    ledger = ledger_at(path, use_cache=False)
    for n in range(1, count + 1):
        if n % 3 == 0:
            ledger.execute(Withdraw("a", Decimal("1.25")))
        elif n % 3 == 1:
            ledger.execute(Deposit("a", Decimal("5.50")))
        else:
            ledger.execute(Transfer("a", f"b{n % 7}", Decimal("0.75")))


def snapshot(path: Path) -> tuple[dict[str, Decimal], int, str]:
    state = ledger_at(path, use_cache=False).state()
    return state.balances, state.seq, state.head


def test_the_helper_path_gives_the_same_books_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.jsonl"
    write_log(path)
    expected = snapshot(path)
    expected_at = {k: ledger_at(path, use_cache=False).state(Point(str(k), seq=k)).balances for k in (1, 100, 250, 300)}
    monkeypatch.setattr(fold, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(store, "CHUNK", 4096)
    assert snapshot(path) == expected
    for k, balances in expected_at.items():
        assert ledger_at(path, use_cache=False).state(Point(str(k), seq=k)).balances == balances
    assert ledger_at(path).verify().ok


@pytest.mark.parametrize("where", [0.2, 0.5, 0.9, 0.999])
def test_an_edited_line_anywhere_is_named_exactly_with_the_helper(
    tmp_path: Path, forced: list[tuple[int, int]], where: float
) -> None:
    path = tmp_path / "l.jsonl"
    write_log(path)
    lines = path.read_bytes().splitlines(keepends=True)
    bad = max(2, int(len(lines) * where))
    lines[bad - 1] = lines[bad - 1].replace(b'"amount":"', b'"amount":"9', 1)
    path.write_bytes(b"".join(lines))
    with pytest.raises(LogCorrupt) as caught:
        ledger_at(path, use_cache=False).state()
    assert caught.value.line == bad
    report = ledger_at(path).verify()
    assert not report.ok and report.problems[0].startswith(f"line {bad}:") and report.events == bad - 1
    assert forced, "the helper was never started"


def test_a_rehashed_line_in_the_helpers_range_breaks_the_chain_at_the_next_line(
    tmp_path: Path, forced: list[tuple[int, int]]
) -> None:
    path = tmp_path / "l.jsonl"
    write_log(path)
    lines = path.read_bytes().splitlines(keepends=True)
    target = len(lines) - 20
    event = json.loads(lines[target - 1])
    event["amount"] = "5.51" if event["amount"] == "5.50" else event["amount"]
    lines[target - 1] = reseal(event)
    path.write_bytes(b"".join(lines))
    with pytest.raises(LogCorrupt) as caught:
        ledger_at(path, use_cache=False).state()
    assert caught.value.line in (target, target + 1)


def test_a_rule_broken_in_the_helpers_range_is_reported_like_one_process(
    tmp_path: Path, forced: list[tuple[int, int]]
) -> None:
    """A well-hashed chain whose late withdrawal overdraws: the helper says the data is sound,
    so the reader's rule error stands, with the right line."""
    path = tmp_path / "l.jsonl"
    write_log(path, 200)
    lines = path.read_bytes().splitlines(keepends=True)
    events = [json.loads(line) for line in lines]
    events.append({**events[2], "seq": len(events) + 1, "amount": "999999", "type": "withdrawn",
                   "ts": events[-1]["ts"], "id": "01a21700-0000-7000-8000-000000000001"})  # fmt: skip
    events[-1].pop("to", None)
    prev = "0" * 64
    out = []
    for ev in events:
        ev["prev"] = prev
        ev.pop("hash", None)
        line = reseal(ev)
        prev = json.loads(line)["hash"]
        out.append(line)
    path.write_bytes(b"".join(out))
    with pytest.raises(LogCorrupt) as caught:
        ledger_at(path, use_cache=False).state()
    assert caught.value.line == 201 and "insufficient funds" in str(caught.value)


def test_a_torn_tail_and_new_appends_with_the_helper(tmp_path: Path, forced: list[tuple[int, int]]) -> None:
    path = tmp_path / "l.jsonl"
    write_log(path, 150)
    expected = snapshot(path)
    with open(path, "ab") as out:
        out.write(b'{"account":"a","amo')
    ledger = ledger_at(path, use_cache=False)
    assert (ledger.state().balances, ledger.state().seq) == expected[:2]
    ledger.execute(Deposit("a", Decimal("1")))  # quarantines the torn tail, then appends
    assert ledger_at(path).verify().ok
    assert ledger_at(path, use_cache=False).state().seq == 151


def _forge(path: Path, extra: list[dict[str, str]]) -> None:
    """Append well-hashed events that a writer would have refused (only the rules catch them)."""
    lines = path.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    prev, seq = last["hash"], last["seq"]
    out = list(lines)
    for n, fields in enumerate(extra, 1):
        event = {"v": 1, "seq": seq + n, "id": f"01a21700-0000-7000-8000-{seq + n:012x}", "ts": last["ts"],
                 "prev": prev, **fields}  # fmt: skip
        line = reseal(event)
        prev = json.loads(line)["hash"]
        out.append(line)
    path.write_bytes(b"".join(out))


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ([{"type": "withdrawn", "account": "nobody", "amount": "1"}], "unknown account nobody"),
        ([{"type": "account_closed", "account": "b1"}, {"type": "deposited", "account": "b1", "amount": "1"}], None),
        ([{"type": "transferred", "account": "a", "to": "a", "amount": "1"}], "to itself"),
        ([{"type": "withdrawn", "account": "b2", "amount": "100000"}], "insufficient funds"),
    ],
    ids=["debit-of-unknown", "deposit-to-closed", "self-transfer", "overdraft"],
)
def test_a_forged_run_in_the_helpers_range_is_refused_with_the_serial_message(
    tmp_path: Path, forced: list[tuple[int, int]], extra: list[dict[str, str]], problem: str | None
) -> None:
    path = tmp_path / "l.jsonl"
    write_log(path, 200)
    _forge(path, extra)
    with pytest.raises(LogCorrupt) as caught:
        ledger_at(path, use_cache=False).state()
    assert caught.value.line >= 201
    if problem is not None:
        assert problem in str(caught.value)
    assert forced


_commands = st.lists(
    st.one_of(
        st.builds(Deposit, st.sampled_from(["a", "b", "c"]), st.sampled_from([Decimal("1"), Decimal("2.5")])),
        st.builds(Withdraw, st.sampled_from(["a", "b", "c"]), st.sampled_from([Decimal("1"), Decimal("0.5")])),
        st.builds(
            Transfer, st.sampled_from(["a", "b"]), st.sampled_from(["b", "c", "d"]), st.sampled_from([Decimal("1")])
        ),
        st.builds(Open, st.sampled_from(["c", "e"])),
        st.builds(Close, st.sampled_from(["c", "d", "e"])),
        st.builds(Reverse, st.integers(min_value=1, max_value=60)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_commands)
def test_the_two_process_fold_equals_the_one_process_fold(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, commands: list[object]
) -> None:
    path = tmp_path_factory.mktemp("p") / "l.jsonl"
    ledger = ledger_at(path, use_cache=False)
    for command in commands:
        try:
            ledger.execute(command)  # type: ignore[arg-type]
        except LedgerError:
            pass
    if not path.exists():
        return
    with monkeypatch.context() as patch:
        patch.setattr(fold, "PARALLEL_BYTES", 1 << 62)
        alone = ledger_at(path, use_cache=False).state()
    with monkeypatch.context() as patch:
        patch.setattr(fold, "PARALLEL_BYTES", 0)
        patch.setattr(store, "CHUNK", 256)
        together = ledger_at(path, use_cache=False).state()
        assert ledger_at(path).verify().ok
    assert together == alone
