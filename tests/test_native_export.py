"""The C writer of `ledger export` (_native_export.c, driven by fastexport) against the Python
writers: for random dated histories (off-day entries, closes and reopens, reversals, periods,
v1 lines, memos and keys full of the characters each format must encode) every format comes out
byte for byte the same either way, and so does an export whose values pass the C writer's limits
(it hands over to Python mid-walk) or that Beancount refuses."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import exports, fastexport
from ledger_cli.accel import native
from ledger_cli.config import ledger_at
from ledger_cli.errors import InvalidValue, RuleViolation
from tests.test_bitemporal_model import TODAY, Clock, Ids, command_for, scenarios, utc  # noqa: F401 (TZ=UTC)
from tests.test_export import NAMES, model_events
from tests.test_v1_dates import LOG as V1_LOG

pytestmark = pytest.mark.skipif(native() is None, reason="the C extension is not built (LEDGER_CLI_NATIVE=0?)")

TEXT = st.text(st.sampled_from('ab;,%"\\ é中\u00a0\u3000\u2009x'), min_size=0, max_size=8)
KEYS = st.text(st.sampled_from('ab;,%"\\ é中x'), min_size=1, max_size=8)  # (printable only)
ODD = ["  lead", "trail  ", "x\u3000", "%2C", ";;", " ", "a\u00a0 \u3000"]  # (spaces at either end, escapes)
MEMOS = st.one_of(st.none(), TEXT, st.sampled_from(ODD))
BIG = "123456789012345678901234567.5"  # 27 + 1 digits: past the C writer's 19 whole digits


def with_texts(command: Any, memo: str | None, key: str | None) -> Any:
    fields = command._fields
    if "memo" not in fields:
        return command
    values = {"memo": memo or command.memo, "key": key}  # (a reopening keeps its memo: it needs one)
    return type(command)(*[values[n] if n in values else getattr(command, n) for n in fields])


def build(folder: Path, steps: list[tuple[Any, ...]], texts: list[tuple[Any, Any]], v1: bool, big: bool) -> Any:
    rename = dict(zip(("a", "b", "c"), NAMES[:3]))
    log = folder / "books.jsonl"
    if v1:
        log.write_bytes(V1_LOG)
    ids = Ids()
    ids.n = 1000
    ledger = ledger_at(log, clock=Clock(), new_id=ids)
    for n, step in enumerate(steps):
        step = tuple(rename.get(part, part) if isinstance(part, str) else part for part in step)
        if big and n == len(steps) // 2 and step[0] == "deposit":
            step = (step[0], step[1], BIG, step[3])
        memo, key = texts[n % len(texts)]
        try:
            command = command_for(step, model_events(log) if log.exists() else [])
            ledger.execute(with_texts(command, memo, None if key is None else f"{key}-{n}"))
        except (RuleViolation, InvalidValue):
            pass
    return ledger


def exported(ledger: Any, folder: Path, fmt: str, as_of: str | None, use_c: bool) -> bytes | str:
    """The export's bytes, or the message it was refused with."""
    path = folder / f"out.{fmt}.{use_c}"
    found = fastexport.native
    if not use_c:
        fastexport.native = lambda: None  # type: ignore[assignment]
    try:
        exports.export(ledger, fmt, str(path), None, as_of, exports.INCOME, exports.EXPENSE, "EUR")
    except InvalidValue as exc:
        return str(exc)
    finally:
        fastexport.native = found  # type: ignore[assignment]
    return path.read_bytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=scenarios(),
    texts=st.lists(st.tuples(MEMOS, st.one_of(st.none(), KEYS)), min_size=1),
    v1=st.booleans(),
    big=st.booleans(),
    as_of=st.sampled_from([None, None, "2025-12-31", "2026-01-10", "2026-01-15"]),
)
def test_the_c_writer_writes_what_the_python_writers_write(
    scenario: tuple[int, list[tuple[Any, ...]], bool], texts: list[tuple[Any, Any]], v1: bool, big: bool,
    as_of: str | None,
) -> None:  # fmt: skip
    _, steps, _ = scenario
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        ledger = build(folder, steps, texts, v1, big)
        for fmt in exports.FORMATS:
            ours, theirs = exported(ledger, folder, fmt, as_of, True), exported(ledger, folder, fmt, as_of, False)
            assert ours == theirs, fmt


def test_a_value_past_the_c_writers_limits_hands_over_mid_walk(tmp_path: Path) -> None:
    """A deposit of 28 digits in the middle: the C writer stops there and the Python writer goes
    on from its balances (hledger and CSV), or names the value Beancount would round."""
    ledger = ledger_at(tmp_path / "books.jsonl", clock=Clock(), new_id=Ids())
    from ledger_cli.commands import Deposit, Withdraw

    def back(days: int) -> str:
        return (date.fromisoformat(TODAY) - timedelta(days=days)).isoformat()

    # every entry backdated (off-day): all of them are written after the walk, in date order
    for command in (Deposit("acct1", exports.Decimal("10.5"), date=back(3)),
                    Deposit("acct1", exports.Decimal(BIG), date=back(3)),
                    Withdraw("acct1", exports.Decimal("0.25"), date=back(3)),
                    Deposit("b", exports.Decimal("1"), date=back(1)),
                    Deposit("acct1", exports.Decimal("0.125"), date=back(2))):  # fmt: skip
        ledger.execute(command)
    # 10.5 + BIG - 0.25 + 0.125 needs 30 digits: exact, never rounded to Decimal's default 28
    total = "123456789012345678901234577.875"
    for fmt, balance in (("hledger", f" = {total}\n".encode()), ("csv", f",{total},".encode())):
        ours = exported(ledger, tmp_path, fmt, None, True)
        assert ours == exported(ledger, tmp_path, fmt, None, False)
        assert isinstance(ours, bytes) and balance in ours
    refused = exported(ledger, tmp_path, "beancount", None, True)
    assert refused == exported(ledger, tmp_path, "beancount", None, False)
    assert isinstance(refused, str) and "28 significant digits" in refused


@pytest.mark.parametrize("use_c", [True, False])
def test_an_off_day_entry_the_plan_does_not_know_stops_the_export(tmp_path: Path, use_c: bool) -> None:
    """The plan comes from the books at the bound (a checkpoint's); the walk proves it: an entry
    dated other than by its ts that the plan left out is exit 3, never a journal out of order."""
    from ledger_cli.commands import Deposit
    from ledger_cli.errors import StoreError

    ledger = ledger_at(tmp_path / "books.jsonl", clock=Clock(), new_id=Ids())
    ledger.execute(Deposit("acct1", exports.Decimal(5)))
    ledger.execute(Deposit("acct1", exports.Decimal(2), date="2026-01-02"))  # backdated: off-day
    plan = exports.plan

    def forgetful(*args: Any) -> exports.Books:
        books = plan(*args)
        books.offday.clear()
        books.shown_offday.clear()
        return books

    exports.plan = forgetful  # type: ignore[assignment]
    try:
        with pytest.raises(StoreError, match="checkpoint disagrees with the log"):
            exported(ledger, tmp_path, "hledger", None, use_c)
    finally:
        exports.plan = plan  # type: ignore[assignment]


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_books_not_written_yet_export_as_an_empty_file_of_each_format(tmp_path: Path, fmt: str) -> None:
    from tests.conftest import run_installed

    done = run_installed(["export", "--format", fmt], tmp_path / "none-yet.jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("date,seq" if fmt == "csv" else "; ledger export: 0 events, head none")
    assert not (tmp_path / "none-yet.jsonl").exists()
