"""The pure reports (issue 9): journal entries balance and rebuild the books; history rows pick
what `history` shows."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_cli.domain import Close, Command, Deposit, Open, Reverse, Transfer, Withdraw
from ledger_cli.errors import RuleViolation
from ledger_cli.memlog import MemoryLog
from ledger_cli.reports import HistoryRows, accounts_report, entries
from ledger_cli.service import Ledger
from ledger_cli.when import Point

ACCOUNTS = st.sampled_from(["a", "b", "a:x", "c"])
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2)
COMMANDS = st.one_of(
    st.builds(Deposit, ACCOUNTS, AMOUNTS),
    st.builds(Withdraw, ACCOUNTS, AMOUNTS),
    st.builds(Transfer, ACCOUNTS, ACCOUNTS, AMOUNTS),
    st.builds(Open, ACCOUNTS),
    st.builds(Close, ACCOUNTS),
    st.builds(Reverse, st.integers(1, 30)),
)


def recorded(commands: list[Command]) -> Ledger:
    ledger = Ledger(MemoryLog())
    for command in commands:
        try:
            ledger.execute(command)
        except RuleViolation:
            pass
    return ledger


@settings(max_examples=60)
@given(st.lists(COMMANDS, max_size=30))
def test_entries_balance_and_their_postings_rebuild_every_balance(commands: list[Command]) -> None:
    ledger = recorded(commands)
    totals: dict[str, Decimal] = {}
    for entry in entries(ledger.log.read()):
        assert sum((posting.amount for posting in entry.postings), Decimal(0)) == 0
        assert (entry.reverses is not None) == (entry.type == "reversed")
        for posting in entry.postings:
            if posting.account is not None:
                totals[posting.account] = totals.get(posting.account, Decimal(0)) + posting.amount
    state = ledger.state()
    assert {name: value for name, value in totals.items() if value} == {
        name: value for name, value in state.balances.items() if value
    }
    assert [row.account for row in accounts_report(state)] == sorted(state.open)


@settings(max_examples=60)
@given(
    st.lists(COMMANDS, max_size=30),
    st.sampled_from([None, "a", "b"]),
    st.integers(0, 12),
    st.none() | st.integers(0, 5),
)
def test_history_rows_are_the_events_of_the_account_from_since_with_the_last_kept(
    commands: list[Command], account: str | None, since: int, last: int | None
) -> None:
    ledger = recorded(commands)
    events = list(ledger.log.read())
    rows = HistoryRows(account, Point(str(since), seq=since) if since else None, last)
    shown = [row for ev in events if (row := rows.take(ev)) is not None] + rows.held()
    running, expected = Decimal(0), []
    for ev in events:
        if account is not None:
            touched = [p.amount for p in next(entries([ev])).postings if p.account is not None and (
                p.account == account or p.account.startswith(account + ":"))]  # fmt: skip
            if (
                ev.account != account
                and ev.to != account
                and not any(name is not None and name.startswith(account + ":") for name in (ev.account, ev.to))
            ):
                continue
            running += sum(touched, Decimal(0))
        if since and ev.seq < since:
            continue
        expected.append((ev.seq, running if account is not None else None))
    if last is not None:
        expected = expected[max(0, len(expected) - last) :] if last else []
    assert [(event.seq, balance) for event, balance in shown] == expected
