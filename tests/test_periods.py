"""`ledger balance --by month|quarter|year [--begin D] [--end D] [--change]` (issue 13) against a
reference fold of the events for random dated histories (closes, reopens, reversals, periods,
v1 lines), and every output format on a fixed history: wide tsv/csv/table with a total row,
long json/jsonl."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli.books import ensure_days
from ledger_cli.periods import BY, period_report
from tests.conftest import run_installed
from tests.test_bitemporal_model import scenarios, utc  # noqa: F401 (TZ=UTC)
from tests.test_export import NAMES, build, model_events

DAYS = st.sampled_from([None, "2025-12-15", "2026-01-01", "2026-01-07", "2026-01-16", "2026-01-21", "2026-03-01"])


def changes(events: list[dict[str, Any]]) -> list[tuple[str, str, Decimal]]:
    """(date, account, signed change) of every movement: the reference fold."""
    found = []
    for ev in events:
        amount, kind = ev["amount"], ev["type"]
        if amount is None:
            continue
        if kind == "deposited":
            found.append((ev["date"], ev["account"], amount))
            continue
        if ev["account"] is not None:
            found.append((ev["date"], ev["account"], -amount))
        if ev["to"] is not None:
            found.append((ev["date"], ev["to"], amount))
    return found


def in_label(by: str, label: str, day: str) -> bool:
    if by == "year":
        return day[:4] == label
    if by == "quarter":
        return f"{day[:4]}Q{(int(day[5:7]) - 1) // 3 + 1}" == label
    return day[:7] == label


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), v1=st.booleans(), by=st.sampled_from(BY), begin=DAYS, end=DAYS, change=st.booleans())
def test_balances_by_period_are_the_reference_folds(
    scenario: tuple[int, list[tuple[Any, ...]], bool], v1: bool, by: str, begin: str | None, end: str | None,
    change: bool,
) -> None:  # fmt: skip
    if begin is not None and end is not None and begin >= end:
        end = None
    _, steps, _ = scenario
    with tempfile.TemporaryDirectory() as folder:
        ledger = build(Path(folder), steps, tuple(NAMES[:3]), False, v1)
        state = ledger.state(keys=False, dated=True)
        assert ensure_days(state)
        report = period_report(state.days, [], by, begin, end, change)
        moves = changes(model_events(Path(folder) / "books.jsonl"))
    dates = sorted(day for day, _, _ in moves)
    first = begin or (dates[0] if dates else None)
    after = end or ((date.fromisoformat(dates[-1]) + timedelta(days=1)).isoformat() if dates else None)
    if first is None or after is None or first >= after:
        assert report.periods == [] and report.rows == []
        return
    # the columns partition [first, after), each inside the calendar period its label names
    assert report.periods[0].first == first
    assert (date.fromisoformat(report.periods[-1].last) + timedelta(days=1)).isoformat() == after
    for one, two in zip(report.periods, report.periods[1:]):
        assert (date.fromisoformat(one.last) + timedelta(days=1)).isoformat() == two.first
    for period in report.periods:
        assert in_label(by, period.label, period.first) and in_label(by, period.label, period.last)
    expected: dict[str, list[Decimal]] = {}
    for account in {account for _, account, _ in moves}:
        row = []
        for period in report.periods:
            low = period.first if change else ""
            row.append(sum((v for d, a, v in moves if a == account and low <= d <= period.last), Decimal(0)))
        mine = [d for d, a, _ in moves if a == account and d <= report.periods[-1].last and (not change or d >= first)]
        if mine:
            expected[account] = row
    assert dict(report.rows) == expected
    assert report.totals == [sum((row[i] for row in expected.values()), Decimal(0)) for i in range(len(report.periods))]


def test_every_format_of_a_report_by_month(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "assets:bank", "100", "--date", "2026-01-05"),
                 ("deposit", "b", "1.5", "--date", "2026-02-01"),
                 ("transfer", "assets:bank", "b", "30", "--date", "2026-03-31"),
                 ("withdraw", "assets:bank", "0.25", "--date", "2026-03-31")):  # fmt: skip
        assert run_installed(list(args), log).returncode == 0

    def report(*extra: str) -> str:
        done = run_installed(["balance", "--by", "month", *extra], log)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert report("--format", "tsv") == (
        "account\t2026-01\t2026-02\t2026-03\nassets:bank\t100\t100\t69.75\nb\t0\t1.5\t31.5\ntotal\t100\t101.5\t101.25\n"
    )
    assert report("--change", "--begin", "2026-02-01", "--format", "tsv") == (
        "account\t2026-02\t2026-03\nassets:bank\t0\t-30.25\nb\t1.5\t30\ntotal\t1.5\t-0.25\n"
    )
    rows = list(csv.reader(io.StringIO(report("--format", "csv"))))
    assert rows[0] == ["account", "2026-01", "2026-02", "2026-03"] and rows[-1] == ["total", "100", "101.5", "101.25"]
    long = json.loads(report("--json", "--end", "2026-03-01"))
    assert long[0] == {"account": "assets:bank", "period": "2026-01", "first": "2026-01-05", "last": "2026-01-31",
                       "balance": "100"}  # fmt: skip
    assert long[-1] == {"account": None, "period": "2026-02", "first": "2026-02-01", "last": "2026-02-28",
                        "balance": "101.5"}  # fmt: skip
    assert [json.loads(line) for line in report("--format", "jsonl", "--end", "2026-03-01").splitlines()] == long
    table = report("--format", "table", "assets")
    assert "2026-03" in table and "69.75" in table and "Total" in table and "1.5" not in table
    assert run_installed(["balance", "--by", "fortnight"], log).returncode == 2
    assert run_installed(["balance", "--by", "month", "--as-of", "2026-02-01"], log).returncode == 2
    refused = run_installed(["balance", "--change"], log)
    assert refused.returncode == 2 and "need --by" in refused.stderr
