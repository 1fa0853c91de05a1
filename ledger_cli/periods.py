"""Balances by period (`ledger balance --by month|quarter|year`), from the books' changes per
day: one column per calendar period that meets [begin, end) (begin inclusive, end exclusive, as
hledger's -b/-e), each account's balance at the column's last day, or with `change` the change
within the column. Pure: the books in, plain data out (render.periods prints it)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from decimal import Decimal

from ledger_cli.dates import day_number, day_text
from ledger_cli.errors import InvalidValue
from ledger_cli.money import money_context
from ledger_cli.values import covers

BY = ("month", "quarter", "year")  # balance --by (the issue's; hledger's -M -Q -Y)
SHORT = ("day", "week")  # also for charts (a week starts on Monday, labelled by ISO week: 2026-W45)
ZERO = Decimal(0)


class Period:
    """One column: its label (2026-01, 2026Q1, 2026) and the days it covers, first and last
    (the calendar period cut to the report's begin and end)."""

    __slots__ = ("label", "first", "last")

    def __init__(self, label: str, first: str, last: str) -> None:
        self.label, self.first, self.last = label, first, last

    def __repr__(self) -> str:
        return f"Period({self.label!r}, {self.first!r}, {self.last!r})"


class PeriodReport:
    def __init__(self, periods: list[Period], rows: list[tuple[str, list[Decimal]]], change: bool) -> None:
        self.periods, self.rows, self.change = periods, rows, change
        with money_context():
            self.totals = [sum((values[i] for _, values in rows), ZERO) for i in range(len(periods))]


def _start(by: str, day: str) -> tuple[int, int]:
    """(year, first month) of the period `day` lies in."""
    year, month = int(day[:4]), int(day[5:7])
    if by == "year":
        return year, 1
    if by == "quarter":
        return year, (month - 1) // 3 * 3 + 1
    return year, month


def _next(by: str, year: int, month: int) -> tuple[int, int]:
    step = {"month": 1, "quarter": 3, "year": 12}[by]
    month += step
    return (year + (month - 1) // 12, (month - 1) % 12 + 1)


def _label(by: str, year: int, month: int) -> str:
    if by == "year":
        return f"{year:04d}"
    if by == "quarter":
        return f"{year:04d}Q{(month - 1) // 3 + 1}"
    return f"{year:04d}-{month:02d}"


def _short_spans(by: str, begin: str, end: str) -> list[Period]:
    from datetime import date

    found, day, stop = [], day_number(begin), day_number(end)
    if by == "week":
        day -= date.fromisoformat(begin).weekday()  # back to its Monday
    while day < stop:
        last = day if by == "day" else day + 6
        text = day_text(day)
        if by == "day":
            label = text
        else:
            year, week, _ = date.fromisoformat(text).isocalendar()
            label = f"{year:04d}-W{week:02d}"
        found.append(Period(label, max(text, begin), min(day_text(last), day_text(stop - 1))))
        day = last + 1
    return found


def spans(by: str, begin: str, end: str) -> list[Period]:
    """The columns for [begin, end): each calendar period that meets it, cut to it."""
    if by in SHORT:
        return _short_spans(by, begin, end)
    if by not in BY:
        raise InvalidValue(f"invalid --by {by!r}: choose one of {', '.join(SHORT + BY)}")
    last_day = day_text(day_number(end) - 1)
    found: list[Period] = []
    year, month = _start(by, begin)
    while True:
        first = f"{year:04d}-{month:02d}-01"
        if first > last_day:
            return found
        after = _next(by, year, month)
        last = day_text(day_number(f"{after[0]:04d}-{after[1]:02d}-01") - 1) if after[0] <= 9999 else "9999-12-31"
        found.append(Period(_label(by, year, month), max(first, begin), min(last, last_day)))
        if after[0] > 9999:
            return found
        year, month = after


def period_report(
    days: dict[str, dict[str, Decimal]],
    names: list[str],
    by: str,
    begin: str | None,
    end: str | None,
    change: bool,
) -> PeriodReport:
    """The report over the accounts `names` cover (all when empty): its columns run from
    `begin` (default: the first date with a change) to before `end` (default: the day after
    the last such date)."""
    if begin is not None and end is not None and begin > end:
        raise InvalidValue(f"--begin {begin} is after --end {end}")
    chosen = {a: d for a, d in days.items() if not names or any(covers(n, a) for n in names)}
    dates = [day for changes in chosen.values() for day in changes]
    if begin is None:
        begin = min(dates) if dates else None
    if end is None:
        end = day_text(day_number(max(dates)) + 1) if dates else None
    if begin is None or end is None or begin >= end:  # nothing dated in the range
        return PeriodReport([], [], change)
    periods = spans(by, begin, end)
    rows: list[tuple[str, list[Decimal]]] = []
    with money_context():
        for account in sorted(chosen):
            ordered = sorted(chosen[account].items())
            keys = [day for day, _ in ordered]
            amounts = [value for _, value in ordered]
            totals = [ZERO]  # totals[k]: the sum of the first k changes by date (the balances)
            for value in amounts:
                totals.append(totals[-1] + value)
            lo = bisect_left(keys, begin) if change else 0
            if bisect_right(keys, periods[-1].last) == lo:  # nothing in the report's range
                continue
            values = []
            for period in periods:
                hi = bisect_right(keys, period.last)
                if change:  # the window's own sum (a difference of totals would show their scale: 30.0)
                    values.append(sum(amounts[bisect_left(keys, period.first) : hi], ZERO))
                else:
                    values.append(totals[hi])
            rows.append((account, values))
        return PeriodReport(periods, rows, change)
