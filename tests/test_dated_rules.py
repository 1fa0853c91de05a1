"""Given dated events / when a dated command / then an event or a refusal: every rule of
contract section 7 in the domain, at each boundary (the closed day itself, the day after,
today, tomorrow; the day of a reopening and the day before).

Pure: commands are decided against a State built by decide() + seal() + evolve(), with a
pinned clock whose "today" is TODAY.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger_cli.books import as_of
from ledger_cli.codec import seal
from ledger_cli.domain import (
    Close,
    ClosePeriod,
    Command,
    Deposit,
    Open,
    ReopenPeriod,
    Reverse,
    Stamp,
    State,
    Transfer,
    Withdraw,
    decide,
    evolve,
)
from ledger_cli.errors import InvalidValue, RuleViolation
from ledger_cli.events import Event, event_problem
from ledger_cli.money import money_context

D = Decimal
TODAY = "2026-01-15"
TOMORROW = "2026-01-16"


class Books:
    def __init__(self) -> None:
        self.state = State()
        self.events: list[Event] = []

    def decide(self, command: Command) -> list[Event]:
        n = len(self.events) + 1
        stamp = Stamp(f"{TODAY}T12:00:{n:02d}.000000Z", f"00000000-0000-4000-8000-{n:012x}", TODAY)
        original = None
        if isinstance(command, Reverse) and 1 <= command.target <= len(self.events):
            original = self.events[command.target - 1]
        with money_context():
            return decide(command, self.state, stamp, original=original)

    def apply(self, command: Command) -> Event:
        (event,) = self.decide(command)
        seal(event)
        with money_context():
            evolve(self.state, event)
        self.events.append(event)
        return event


def given(*commands: Command) -> Books:
    books = Books()
    for command in commands:
        books.apply(command)
    return books


def dep(account: str, amount: str, date: str) -> Deposit:
    return Deposit(account, D(amount), date=date)


def wd(account: str, amount: str, date: str) -> Withdraw:
    return Withdraw(account, D(amount), date=date)


# ---- the date an event gets --------------------------------------------------------------------

DATED = [
    pytest.param([], Deposit("a", D(5)), TODAY, id="no-date-is-today"),
    pytest.param([], dep("a", "5", TODAY), TODAY, id="today-is-taken"),
    pytest.param([], dep("a", "5", "2025-12-28"), "2025-12-28", id="a-past-date-is-kept"),
    pytest.param([], Open("a", date="2025-01-01"), "2025-01-01", id="open-dated"),
    pytest.param([], ClosePeriod(TODAY), TODAY, id="close-period-through-today"),
    pytest.param([dep("a", "5", "2026-01-02")], Reverse(1), "2026-01-02", id="reversal-keeps-the-original-date"),
    pytest.param(
        [dep("a", "5", "2025-12-20"), ClosePeriod("2025-12-31")],
        Reverse(1),
        TODAY,
        id="reversal-of-a-closed-day-is-today",
    ),
    pytest.param(
        [dep("a", "5", "2026-01-02")], Reverse(1, date="2026-01-02"), "2026-01-02", id="reversal-on-the-original-day"
    ),
    pytest.param([dep("a", "5", "2026-01-02")], Reverse(1, date=TODAY), TODAY, id="reversal-dated-later"),
]


@pytest.mark.parametrize(("history", "command", "date"), DATED)
def test_the_event_is_dated(history: list[Command], command: Command, date: str) -> None:
    event = given(*history).apply(command)
    assert event.date == date and event.v == 2
    assert event_problem(event) is None


INVALID = [
    pytest.param([], dep("a", "5", TOMORROW), "after today", id="deposit-tomorrow"),
    pytest.param([], Open("a", date=TOMORROW), "after today", id="open-tomorrow"),
    pytest.param([], ClosePeriod(TOMORROW), "after today", id="close-period-tomorrow"),
    pytest.param(
        [dep("a", "5", "2026-01-10")],
        Reverse(1, date="2026-01-09"),
        "before the event it reverses",
        id="reversal-early",
    ),
]


@pytest.mark.parametrize(("history", "command", "message"), INVALID)
def test_a_date_that_cannot_be_is_a_bad_value(history: list[Command], command: Command, message: str) -> None:
    books = given(*history)
    with pytest.raises(InvalidValue, match=message):
        books.decide(command)


# ---- refusals and their boundaries --------------------------------------------------------------

CLOSED_2025 = [dep("a", "100", "2025-12-01"), ClosePeriod("2025-12-31")]
REOPENED_A = [dep("a", "5", "2026-01-02"), wd("a", "5", "2026-01-03"), Close("a", date="2026-01-05"),
              Open("a", date="2026-01-10")]  # fmt: skip

REFUSED = [
    # closed periods
    pytest.param(CLOSED_2025, dep("a", "1", "2025-12-31"), "closed through 2025-12-31 (seq 2)", id="closed-day-itself"),
    pytest.param(CLOSED_2025, dep("a", "1", "2025-06-01"), "closed through 2025-12-31", id="inside-the-closed-range"),
    pytest.param(CLOSED_2025, Open("b", date="2025-12-31"), "closed through", id="open-in-a-closed-period"),
    pytest.param(CLOSED_2025, ClosePeriod("2025-12-31"), "already closed through 2025-12-31", id="close-the-same-day"),
    pytest.param(CLOSED_2025, ClosePeriod("2025-11-30"), "already closed through", id="close-an-earlier-day"),
    pytest.param([], ReopenPeriod("2025-12-01", "why"), "not closed", id="reopen-when-nothing-is-closed"),
    pytest.param(CLOSED_2025, ReopenPeriod("2026-01-01", "why"), "not in the closed period", id="reopen-the-day-after"),
    pytest.param(
        [*CLOSED_2025, ReopenPeriod("2025-12-15", "late fee")],
        wd("a", "1", "2025-12-14"),
        "closed through 2025-12-14 (seq 3)",
        id="the-day-before-a-reopening-stays-closed",
    ),
    # the balance by date, on the day and every later day
    pytest.param(
        [dep("a", "100", "2026-01-10")],
        wd("a", "50", "2026-01-05"),
        "a had 0 on 2026-01-05, needs 50",
        id="debit-before-the-money-arrived",
    ),  # fmt: skip
    pytest.param(
        [dep("a", "100", "2026-01-01"), wd("a", "80", "2026-01-05"), dep("a", "50", TODAY)],
        wd("a", "30", "2026-01-03"),
        "a had 20 on 2026-01-05, needs 30",
        id="debit-that-overdraws-a-later-day",
    ),  # fmt: skip
    pytest.param(
        [dep("a", "100", "2026-01-01"), wd("a", "80", "2026-01-05")],
        wd("a", "30", TODAY),
        "a has 20, needs 30",
        id="debit-today-is-the-recorded-check",
    ),  # fmt: skip
    pytest.param(
        [dep("a", "100", "2026-01-10")],
        Transfer("a", "b", D(1), date="2026-01-09"),
        "a had 0 on 2026-01-09",
        id="transfer-source-by-date",
    ),  # fmt: skip
    pytest.param(
        [dep("a", "30", "2026-01-01"), wd("a", "30", "2026-01-03"), dep("a", "30", "2026-01-05")],
        Reverse(1),
        "reversing event 1 would fail: insufficient funds: a had 0 on 2026-01-03, needs 30",
        id="a-reversal-is-a-debit-by-date",
    ),  # fmt: skip
    # accounts closed and reopened
    pytest.param(
        REOPENED_A, dep("a", "1", "2026-01-09"), "closed until 2026-01-10", id="credit-the-day-before-reopening"
    ),
    pytest.param(REOPENED_A, dep("a", "1", "2026-01-06"), "closed until 2026-01-10", id="credit-while-closed"),
    pytest.param(
        [*REOPENED_A, dep("b", "5", "2026-01-01")],
        Transfer("b", "a", D(1), date="2026-01-07"),
        "closed until 2026-01-10",
        id="transfer-into-the-closed-time",
    ),  # fmt: skip
    pytest.param(
        [dep("a", "5", "2026-01-02"), wd("a", "5", "2026-01-03"), Close("a", date="2026-01-05")],
        Open("a", date="2026-01-04"),
        "was closed on 2026-01-05",
        id="reopen-before-the-close",
    ),  # fmt: skip
    pytest.param(
        [dep("a", "5", "2026-01-02"), wd("a", "5", "2026-01-08")],
        Close("a", date="2026-01-05"),
        "entries dated after 2026-01-05 (the latest on 2026-01-08)",
        id="close-before-a-later-entry",
    ),  # fmt: skip
    pytest.param(
        REOPENED_A, Close("a", date="2026-01-08"), "closed until 2026-01-10", id="close-inside-the-closed-time"
    ),
]


@pytest.mark.parametrize(("history", "command", "message"), REFUSED)
def test_refused(history: list[Command], command: Command, message: str) -> None:
    books = given(*history)
    before = repr(books.state)
    with pytest.raises(RuleViolation, match=message.replace("(", r"\(").replace(")", r"\)")):
        books.decide(command)
    assert repr(books.state) == before


ACCEPTED = [
    pytest.param(CLOSED_2025, dep("a", "1", "2026-01-01"), id="the-day-after-the-close"),
    pytest.param(CLOSED_2025, ClosePeriod("2026-01-01"), id="close-a-later-day"),
    pytest.param(CLOSED_2025, ReopenPeriod("2025-12-31", "why"), id="reopen-the-closed-day-itself"),
    pytest.param(CLOSED_2025, ReopenPeriod("2020-01-01", "why"), id="reopen-long-before"),
    pytest.param(
        [*CLOSED_2025, ReopenPeriod("2025-12-15", "late fee")], wd("a", "1", "2025-12-15"), id="the-reopened-day"
    ),
    pytest.param([Open("a", date=TODAY)], dep("a", "5", "2025-11-01"), id="an-open-date-never-blocks-earlier-entries"),
    pytest.param([dep("a", "100", "2026-01-10")], wd("a", "50", "2026-01-10"), id="debit-on-the-day-the-money-came"),
    pytest.param(
        [dep("a", "100", "2026-01-01"), wd("a", "80", "2026-01-05")],
        wd("a", "20", "2026-01-03"),
        id="debit-that-leaves-every-later-day-at-zero",
    ),  # fmt: skip
    pytest.param(REOPENED_A, dep("a", "1", "2026-01-10"), id="credit-on-the-reopening-day"),
    pytest.param(REOPENED_A, dep("a", "1", TODAY), id="credit-today"),
    pytest.param(
        [dep("a", "5", "2026-01-02"), wd("a", "5", "2026-01-03"), Close("a", date="2026-01-05")],
        Open("a", date="2026-01-05"),
        id="reopen-on-the-closing-day",
    ),  # fmt: skip
    pytest.param(
        [dep("a", "5", "2026-01-02"), wd("a", "5", "2026-01-08")],
        Close("a", date="2026-01-08"),
        id="close-on-the-last-entry-day",
    ),  # fmt: skip
    pytest.param([dep("a", "5", "2026-01-02"), wd("a", "5", "2026-01-08")], Close("a"), id="close-today"),
]


@pytest.mark.parametrize(("history", "command"), ACCEPTED)
def test_accepted(history: list[Command], command: Command) -> None:
    books = given(*history)
    event = books.apply(command)
    assert event.seq == len(history) + 1


def test_a_reopening_leaves_the_books_closed_through_the_day_before() -> None:
    books = given(*CLOSED_2025, ReopenPeriod("2025-12-15", "late fee"))
    assert (books.state.closed_through, books.state.closed_seq) == ("2025-12-14", 3)


def test_a_reopening_needs_its_reason() -> None:
    books = given(*CLOSED_2025)
    (event,) = books.decide(ReopenPeriod("2025-12-15"))
    assert event_problem(event) == "a period_reopened event needs the field 'memo'"


# ---- the books by date -----------------------------------------------------------------------------


def test_as_of_sums_the_changes_dated_on_or_before_the_day_and_keeps_closes_by_date() -> None:
    books = given(
        dep("a", "100", "2026-01-01"),
        dep("b", "5", "2026-01-04"),
        wd("b", "5", "2026-01-04"),
        Close("b", date="2026-01-06"),
        wd("a", "30", "2026-01-03"),  # backdated
        dep("c", "1", "2026-01-09"),
    )
    state = books.state
    assert as_of(state, "2025-12-31").balances == {}
    assert as_of(state, "2026-01-02").balances == {"a": D(100)}
    view = as_of(state, "2026-01-05")
    assert view.balances == {"a": D(70), "b": D(0)} and view.open == {"a": True, "b": True}
    view = as_of(state, "2026-01-06")
    assert view.open["b"] is False
    assert as_of(state, TODAY).balances == {"a": D(70), "b": D(0), "c": D(1)}
