"""Typed events and the codec's upcaster registry (issue 9, item 4)."""

from __future__ import annotations

import json
from decimal import Decimal
from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_cli import codec
from ledger_cli.codec import decode_line, seal
from ledger_cli.errors import LogCorrupt
from ledger_cli.events import (
    GENESIS,
    TYPED,
    AccountClosed,
    AccountOpened,
    Deposited,
    Event,
    PeriodClosed,
    PeriodReopened,
    Reversed,
    Transferred,
    Withdrawn,
    typed,
)

ID = "00000000-0000-7000-8000-000000000001"
TS = "2025-01-01T00:00:00.000000Z"
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e12"), places=6).map(str)


def event(**fields: object) -> Event:
    return Event(**{"seq": 1, "id": ID, "ts": TS, "prev": GENESIS, "date": "2025-01-01", **fields})  # type: ignore[arg-type]


@given(AMOUNTS)
def test_every_type_has_its_class_with_a_decimal_amount(amount: str) -> None:
    cases = [
        (event(type="account_opened", account="a"), AccountOpened),
        (event(type="account_closed", account="a", memo="m"), AccountClosed),
        (event(type="deposited", account="a", amount=amount, key="k"), Deposited),
        (event(type="withdrawn", account="a", amount=amount), Withdrawn),
        (event(type="transferred", account="a", to="b", amount=amount), Transferred),
        (event(type="reversed", target=1, to="a", amount=amount), Reversed),
        (event(type="period_closed", date="2024-12-31"), PeriodClosed),
        (event(type="period_reopened", date="2024-12-01", memo="late fee"), PeriodReopened),
    ]
    assert {cls for _, cls in cases} == set(TYPED.values())
    for ev, cls in cases:
        seal(ev)
        done = typed(decode_line(seal(ev)[:-1], 1))
        assert type(done) is cls and done.seq == 1 and done.hash == ev.hash and done.memo == ev.memo
        assert done.date == ev.date
        if ev.amount is not None:
            assert done.amount == Decimal(amount) and isinstance(done.amount, Decimal)  # type: ignore[union-attr]
        assert done == typed(ev) and hash(done) == hash(typed(ev))
        with pytest.raises(AttributeError):
            done.seq = 2  # type: ignore[misc]


def _line(fields: dict[str, object]) -> bytes:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return body[:-1] + b',"hash":"' + sha256(body).hexdigest().encode() + b'"}'


def test_a_v1_line_stays_as_recorded_and_its_upcast_and_typed_forms_carry_the_local_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from ledger_cli.dates import forget_zone

    old = {"account": "a", "amount": "5", "id": ID, "prev": GENESIS, "seq": 1, "ts": "2025-01-01T03:00:00.000000Z",
           "type": "deposited", "v": 1}  # fmt: skip
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # 2024-12-31 19:00 there
    time.tzset()
    forget_zone()
    try:
        ev = decode_line(_line(old), 1)
        assert (ev.v, ev.date, ev.amount) == (1, None, "5")  # the record is the line, byte for byte
        assert ev.hash == sha256(json.dumps(old, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        assert codec.upcast(dict(old)) == {**old, "v": 2, "date": "2024-12-31"}
        assert typed(ev).date == "2024-12-31"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
        forget_zone()


def test_an_upcaster_must_give_the_next_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(codec.UPCASTERS, 1, lambda fields: dict(fields))
    with pytest.raises(ValueError, match="must give v2"):
        codec.upcast({"v": 1})


def test_a_tampered_old_line_is_refused_before_any_upcaster_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setitem(codec.UPCASTERS, 1, lambda fields: calls.append(1) or {**fields, "v": 2})
    line = _line({"account": "a", "id": ID, "prev": GENESIS, "seq": 1, "ts": TS, "type": "account_opened", "v": 1})
    with pytest.raises(LogCorrupt, match="hash"):
        decode_line(line.replace(b'"a"', b'"b"', 1), 1)
    assert calls == []
