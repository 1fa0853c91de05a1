"""Given events / when a command / then events or a refusal: the rules of contract section 4.

Everything here is pure: commands are decided against a State built by decide() + seal()
+ evolve(), with a pinned clock and ids; no file is touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from ledger_cli.codec import seal
from ledger_cli.domain import (
    Close,
    Command,
    Deposit,
    Open,
    Reverse,
    Stamp,
    State,
    Transfer,
    Withdraw,
    check,
    decide,
    evolve,
    reversal_matches,
)
from ledger_cli.errors import RuleViolation
from ledger_cli.events import GENESIS, Event, event_problem
from ledger_cli.money import money_context

D = Decimal


def stamp(n: int, ts: str | None = None) -> Stamp:
    """The n-th reading of a pinned clock (one second apart) and the n-th id."""
    minute, second = divmod(n, 60)
    when = ts or f"2026-01-01T00:{minute:02d}:{second:02d}.000000Z"
    return Stamp(ts=when, id=f"00000000-0000-4000-8000-{n:012x}")


@dataclass
class Books:
    """A State together with the sealed events that built it."""

    state: State
    events: list[Event]

    def decide(self, command: Command, at: Stamp | None = None) -> list[Event]:
        original = None
        if isinstance(command, Reverse) and 1 <= command.target <= len(self.events):
            original = self.events[command.target - 1]
        keyed = None
        if command.key is not None and command.key in self.state.keys:
            keyed = self.events[self.state.keys[command.key] - 1]
        with money_context():
            return decide(command, self.state, at or stamp(len(self.events) + 1), original=original, keyed=keyed)

    def apply(self, command: Command, at: Stamp | None = None) -> list[Event]:
        new = self.decide(command, at)
        with money_context():
            for event in new:
                seal(event)
                evolve(self.state, event)
                self.events.append(event)
        return new


def given(*commands: Command) -> Books:
    books = Books(State(), [])
    for command in commands:
        books.apply(command)
    return books


def fields(event: Event) -> dict[str, Any]:
    """The fields a rule decides (not the stamp, chain or hash)."""
    return {k: v for k, v in event.body().items() if k not in ("id", "ts", "prev", "seq", "v", "date")}


# ---- commands that record an event ----------------------------------------------------------------

RECORDED = [
    pytest.param([], Open("acct1"), {"type": "account_opened", "account": "acct1"}, id="open-new-account"),
    pytest.param(
        [],
        Open("acct1", memo="first"),
        {"type": "account_opened", "account": "acct1", "memo": "first"},
        id="open-keeps-memo",
    ),
    pytest.param(
        [Deposit("acct1", D("5")), Withdraw("acct1", D("5")), Close("acct1")],
        Open("acct1"),
        {"type": "account_opened", "account": "acct1"},
        id="reopen-closed-account",
    ),
    pytest.param(
        [],
        Deposit("acct1", D("50")),
        {"type": "deposited", "account": "acct1", "amount": "50"},
        id="deposit-to-never-existing-account-is-one-deposited-event",
    ),
    pytest.param(
        [Open("acct1")],
        Deposit("acct1", D("12.30")),
        {"type": "deposited", "account": "acct1", "amount": "12.30"},
        id="deposit-keeps-amount-scale",
    ),
    pytest.param(
        [Deposit("a", D("5")), Withdraw("a", D("5")), Close("a"), Open("a")],
        Deposit("a", D("1")),
        {"type": "deposited", "account": "a", "amount": "1"},
        id="deposit-after-reopen",
    ),
    pytest.param(
        [Deposit("acct1", D("50"))],
        Withdraw("acct1", D("50")),
        {"type": "withdrawn", "account": "acct1", "amount": "50"},
        id="withdraw-whole-balance",
    ),
    pytest.param(
        [Deposit("a", D("10"))],
        Transfer("a", "b", D("4")),
        {"type": "transferred", "account": "a", "to": "b", "amount": "4"},
        id="transfer-to-never-existing-account",
    ),
    pytest.param(
        [Deposit("a", D("10")), Open("b")],
        Transfer("a", "b", D("10"), memo="all"),
        {"type": "transferred", "account": "a", "to": "b", "amount": "10", "memo": "all"},
        id="transfer-whole-balance-to-open-account",
    ),
    pytest.param(
        [Deposit("a", D("10")), Withdraw("a", D("10"))],
        Close("a"),
        {"type": "account_closed", "account": "a"},
        id="close-at-zero",
    ),
    pytest.param([Open("a")], Close("a"), {"type": "account_closed", "account": "a"}, id="close-never-funded"),
    pytest.param(
        [Deposit("a", D("50"))],
        Reverse(1),
        {"type": "reversed", "target": 1, "account": "a", "amount": "50"},
        id="reverse-deposit-takes-money-out",
    ),
    pytest.param(
        [Deposit("a", D("50")), Withdraw("a", D("20"))],
        Reverse(2),
        {"type": "reversed", "target": 2, "to": "a", "amount": "20"},
        id="reverse-withdrawal-puts-money-back",
    ),
    pytest.param(
        [Deposit("a", D("50")), Transfer("a", "b", D("20"))],
        Reverse(2, memo="oops"),
        {"type": "reversed", "target": 2, "account": "b", "to": "a", "amount": "20", "memo": "oops"},
        id="reverse-transfer-moves-money-back",
    ),
    pytest.param(
        [Deposit("a", D("50")), Reverse(1), Deposit("a", D("7"))],
        Reverse(3),
        {"type": "reversed", "target": 3, "account": "a", "amount": "7"},
        id="reverse-another-movement-after-a-reversal",
    ),
]


@pytest.mark.parametrize(("history", "command", "expected"), RECORDED)
def test_command_records_exactly_this_event(history: list[Command], command: Command, expected: dict[str, Any]) -> None:
    books = given(*history)
    new = books.decide(command)
    assert [fields(event) for event in new] == [expected]
    assert event_problem(new[0]) is None


# ---- refusals ---------------------------------------------------------------------------------------

REFUSED = [
    pytest.param([Open("acct1")], Open("acct1"), "already open", id="open-twice"),
    pytest.param([Deposit("acct1", D("1"))], Open("acct1"), "already open", id="open-account-opened-by-deposit"),
    pytest.param([], Withdraw("acct1", D("1")), "unknown account acct1", id="withdraw-unknown"),
    pytest.param(
        [Open("acct1"), Close("acct1")],
        Withdraw("acct1", D("1")),
        "account acct1 is closed",
        id="withdraw-closed",
    ),
    pytest.param(
        [Deposit("acct1", D("50")), Withdraw("acct1", D("12.50"))],
        Withdraw("acct1", D("100")),
        "insufficient funds: acct1 has 37.50, needs 100",
        id="withdraw-short-says-how-much-it-has",
    ),
    pytest.param(
        [Open("acct1")],
        Withdraw("acct1", D("0.01")),
        "insufficient funds: acct1 has 0, needs 0.01",
        id="withdraw-from-empty-account",
    ),
    pytest.param(
        [Deposit("a", D("1"))],
        Withdraw("a", D("1.000000000000000001")),
        "insufficient funds",
        id="withdraw-short-by-one-in-the-18th-place",
    ),
    pytest.param([Open("a"), Close("a")], Deposit("a", D("1")), "account a is closed", id="deposit-closed"),
    pytest.param(
        [Deposit("a", D("10"))],
        Transfer("a", "b", D("10.01")),
        "insufficient funds: a has 10, needs 10.01",
        id="transfer-short",
    ),
    pytest.param([], Transfer("a", "b", D("1")), "unknown account a", id="transfer-unknown-from"),
    pytest.param([Open("b")], Transfer("a", "b", D("1")), "unknown account a", id="transfer-unknown-from-known-to"),
    pytest.param(
        [Deposit("a", D("5")), Withdraw("a", D("5")), Close("a"), Open("b")],
        Transfer("a", "b", D("1")),
        "account a is closed",
        id="transfer-from-closed",
    ),
    pytest.param(
        [Deposit("a", D("5")), Open("b"), Close("b")],
        Transfer("a", "b", D("1")),
        "account b is closed",
        id="transfer-to-closed",
    ),
    pytest.param([Deposit("a", D("5"))], Transfer("a", "a", D("1")), "itself", id="transfer-to-itself"),
    pytest.param([], Close("a"), "unknown account a", id="close-unknown"),
    pytest.param([Open("a"), Close("a")], Close("a"), "already closed", id="close-already-closed"),
    pytest.param([Deposit("a", D("0.01"))], Close("a"), "balance of 0.01", id="close-nonzero"),
    pytest.param([Open("a")], Reverse(1), "not a money movement", id="reverse-account-opened"),
    pytest.param([Open("a"), Close("a")], Reverse(2), "not a money movement", id="reverse-account-closed"),
    pytest.param([Deposit("a", D("5")), Reverse(1)], Reverse(2), "not a money movement", id="reverse-a-reversal"),
    pytest.param([Deposit("a", D("5")), Reverse(1)], Reverse(1), "already reversed", id="reverse-twice"),
    pytest.param([Deposit("a", D("5"))], Reverse(2), "no event with seq 2", id="reverse-seq-beyond-head"),
    pytest.param([Deposit("a", D("5"))], Reverse(0), "no event with seq 0", id="reverse-seq-zero"),
    pytest.param([Deposit("a", D("5"))], Reverse(-1), "no event with seq -1", id="reverse-negative-seq"),
    pytest.param([], Reverse(1), "no event with seq 1", id="reverse-on-empty-books"),
    pytest.param(
        [Deposit("a", D("50")), Withdraw("a", D("30"))],
        Reverse(1),
        "insufficient funds: a has 20, needs 50",
        id="reverse-deposit-would-overdraw",
    ),
    pytest.param(
        [Deposit("a", D("50")), Transfer("a", "b", D("20")), Withdraw("b", D("1"))],
        Reverse(2),
        "insufficient funds: b has 19, needs 20",
        id="reverse-transfer-would-overdraw-destination",
    ),
    pytest.param(
        [Deposit("a", D("5")), Withdraw("a", D("5")), Close("a")],
        Reverse(2),
        "account a is closed",
        id="reverse-withdrawal-into-closed-account",
    ),
    pytest.param(
        [Deposit("a", D("5")), Transfer("a", "b", D("5")), Close("a")],
        Reverse(2),
        "account a is closed",
        id="reverse-transfer-back-into-closed-source",
    ),
    pytest.param(
        [Deposit("a", D("5")), Transfer("a", "b", D("5")), Transfer("b", "c", D("5")), Close("b")],
        Reverse(2),
        "account b is closed",
        id="reverse-transfer-out-of-closed-destination",
    ),
]


@pytest.mark.parametrize(("history", "command", "message"), REFUSED)
def test_command_is_refused_with_a_message(history: list[Command], command: Command, message: str) -> None:
    books = given(*history)
    before = (dict(books.state.balances), dict(books.state.open), books.state.seq, books.state.head)
    with pytest.raises(RuleViolation) as refused:
        books.decide(command)
    assert message in str(refused.value)
    assert refused.value.exit_code == 1
    after = (dict(books.state.balances), dict(books.state.open), books.state.seq, books.state.head)
    assert after == before  # a refused command leaves the books as they were


# ---- the books after a command ------------------------------------------------------------------------

AFTER = [
    pytest.param([Deposit("acct1", D("50"))], {"acct1": (D("50"), True)}, id="deposit-opens-account"),
    pytest.param(
        [Deposit("a", D("10.25")), Withdraw("a", D("0.25"))],
        {"a": (D("10"), True)},
        id="withdraw-subtracts",
    ),
    pytest.param(
        [Deposit("a", D("10")), Transfer("a", "b", D("3.5"))],
        {"a": (D("6.5"), True), "b": (D("3.5"), True)},
        id="transfer-moves-and-opens-destination",
    ),
    pytest.param([Open("a"), Close("a")], {"a": (D("0"), False)}, id="closed-account-stays-known-at-zero"),
    pytest.param([Open("a"), Close("a"), Open("a")], {"a": (D("0"), True)}, id="reopen-makes-it-open"),
    pytest.param([Deposit("a", D("50")), Reverse(1)], {"a": (D("0"), True)}, id="reversed-deposit"),
    pytest.param(
        [Deposit("a", D("50")), Withdraw("a", D("20")), Reverse(2)],
        {"a": (D("50"), True)},
        id="reversed-withdrawal",
    ),
    pytest.param(
        [Deposit("a", D("50")), Transfer("a", "b", D("20")), Reverse(2)],
        {"a": (D("50"), True), "b": (D("0"), True)},
        id="reversed-transfer",
    ),
    pytest.param(
        [Deposit("a", D("999999999999.999999999999999999")), Deposit("a", D("0.000000000000000001"))],
        {"a": (D("1000000000000"), True)},
        id="exact-decimal-at-the-18th-place",
    ),
    pytest.param(
        [Deposit("a", D("999999999999999999999999999999")), Deposit("a", D("1"))],
        {"a": (D("1000000000000000000000000000000"), True)},
        id="thirty-digit-amounts-add-exactly",
    ),
]


@pytest.mark.parametrize(("history", "expected"), AFTER)
def test_books_after_history(history: list[Command], expected: dict[str, tuple[Decimal, bool]]) -> None:
    state = given(*history).state
    assert {account: (state.balances[account], state.open[account]) for account in state.open} == expected


def test_reversal_is_remembered_by_target() -> None:
    state = given(Deposit("a", D("5")), Deposit("a", D("6")), Reverse(1)).state
    assert state.reversed_by == {1: 3}


# ---- idempotency keys --------------------------------------------------------------------------------

RETRIED = [
    pytest.param([Deposit("a", D("50"), key="k")], Deposit("a", D("50"), key="k"), id="deposit-retry"),
    pytest.param([Deposit("a", D("50"), key="k")], Deposit("a", D("50.00"), key="k"), id="deposit-retry-same-value"),
    pytest.param(
        [Deposit("a", D("50"), memo="m", key="k")],
        Deposit("a", D("50"), memo="m", key="k"),
        id="deposit-retry-memo",
    ),
    pytest.param(
        [Deposit("a", D("50")), Withdraw("a", D("50"), key="k")],
        Withdraw("a", D("50"), key="k"),
        id="withdraw-retry-even-though-the-funds-are-gone-now",
    ),
    pytest.param(
        [Deposit("a", D("5")), Transfer("a", "b", D("5"), key="k")],
        Transfer("a", "b", D("5"), key="k"),
        id="transfer-retry",
    ),
    pytest.param([Open("a", key="k")], Open("a", key="k"), id="open-retry-even-though-it-is-open-now"),
    pytest.param([Open("a"), Close("a", key="k")], Close("a", key="k"), id="close-retry-even-though-closed-now"),
    pytest.param(
        [Deposit("a", D("5")), Reverse(1, key="k")],
        Reverse(1, key="k"),
        id="reverse-retry-even-though-reversed-now",
    ),
    pytest.param(
        [Deposit("a", D("5"), key="k"), Deposit("a", D("7"))],
        Deposit("a", D("5"), key="k"),
        id="retry-after-other-events",
    ),
]


@pytest.mark.parametrize(("history", "command"), RETRIED)
def test_retry_with_same_key_and_payload_records_nothing(history: list[Command], command: Command) -> None:
    books = given(*history)
    assert books.decide(command) == []


CONFLICTS = [
    pytest.param([Deposit("a", D("50"), key="k")], Deposit("a", D("51"), key="k"), id="other-amount"),
    pytest.param([Deposit("a", D("50"), key="k")], Deposit("b", D("50"), key="k"), id="other-account"),
    pytest.param([Deposit("a", D("50"), key="k")], Deposit("a", D("50"), memo="x", key="k"), id="other-memo"),
    pytest.param([Deposit("a", D("50"), key="k")], Withdraw("a", D("50"), key="k"), id="other-command"),
    pytest.param(
        [Deposit("a", D("9")), Transfer("a", "b", D("5"), key="k")],
        Transfer("a", "c", D("5"), key="k"),
        id="other-destination",
    ),
    pytest.param([Open("a", key="k")], Open("b", key="k"), id="open-other-account"),
    pytest.param(
        [Deposit("a", D("5")), Deposit("a", D("6")), Reverse(1, key="k")],
        Reverse(2, key="k"),
        id="reverse-other-target",
    ),
]


@pytest.mark.parametrize(("history", "command"), CONFLICTS)
def test_same_key_with_other_payload_is_refused(history: list[Command], command: Command) -> None:
    books = given(*history)
    with pytest.raises(RuleViolation, match="idempotency key"):
        books.decide(command)


def test_key_is_recorded_on_the_event_and_remembered() -> None:
    books = given(Deposit("a", D("5")))
    (event,) = books.apply(Deposit("a", D("1"), key="pay-1"))
    assert event.key == "pay-1"
    assert books.state.keys == {"pay-1": 2}


# ---- stamps, seq and the chain ------------------------------------------------------------------------


def test_ts_never_decreases_when_the_clock_steps_back() -> None:
    books = given()
    books.apply(Deposit("a", D("1")), stamp(1, "2026-03-01T12:00:00.000000Z"))
    (event,) = books.apply(Deposit("a", D("1")), stamp(2, "2026-03-01T11:59:59.999999Z"))
    assert event.ts == "2026-03-01T12:00:00.000000Z"
    (later,) = books.apply(Deposit("a", D("1")), stamp(3, "2026-03-02T00:00:00.000000Z"))
    assert later.ts == "2026-03-02T00:00:00.000000Z"
    assert books.state.ts == later.ts


def test_first_event_takes_the_clock_reading_and_the_given_id() -> None:
    (event,) = given().decide(Open("a"), stamp(7, "2026-05-05T05:05:05.123456Z"))
    assert (event.ts, event.id) == ("2026-05-05T05:05:05.123456Z", "00000000-0000-4000-8000-000000000007")


def test_seq_counts_up_and_prev_chains_to_the_previous_hash() -> None:
    books = given(Open("a"), Deposit("a", D("3")), Transfer("a", "b", D("1")), Withdraw("b", D("1")), Reverse(4))
    assert [event.seq for event in books.events] == [1, 2, 3, 4, 5]
    assert books.events[0].prev == GENESIS == "0" * 64
    for before, event in zip(books.events, books.events[1:]):
        assert event.prev == before.hash
    assert all(event.v == 2 for event in books.events)
    assert (books.state.seq, books.state.head) == (5, books.events[-1].hash)


def test_next_event_continues_the_chain() -> None:
    books = given(Deposit("a", D("3")))
    (event,) = books.decide(Deposit("a", D("4")))
    assert (event.seq, event.prev) == (2, books.events[0].hash)


def test_refused_and_retried_commands_do_not_advance_the_books() -> None:
    books = given(Deposit("a", D("3"), key="k"))
    with pytest.raises(RuleViolation):
        books.apply(Withdraw("a", D("4")))
    assert books.apply(Deposit("a", D("3"), key="k")) == []
    (event,) = books.apply(Deposit("a", D("1")))
    assert event.seq == 2


# ---- replay audits the same rules: check() on recorded events --------------------------------------


def forged(state: State, **values: Any) -> Event:
    base: dict[str, Any] = {
        "seq": state.seq + 1, "id": "00000000-0000-4000-8000-00000000ffff",
        "ts": "2026-12-31T00:00:00.000000Z", "prev": state.head,
    }  # fmt: skip
    base.update(values)
    return Event(**base)


FORGED = [
    pytest.param(
        [Deposit("a", D("5"))],
        {"type": "withdrawn", "account": "a", "amount": "6"},
        "insufficient",
        id="overdrawing-withdrawal",
    ),
    pytest.param([], {"type": "withdrawn", "account": "a", "amount": "1"}, "unknown", id="withdrawal-from-nowhere"),
    pytest.param(
        [Deposit("a", D("5"))],
        {"type": "transferred", "account": "a", "to": "a", "amount": "1"},
        "itself",
        id="self-transfer",
    ),
    pytest.param(
        [Open("a"), Close("a")],
        {"type": "deposited", "account": "a", "amount": "1"},
        "closed",
        id="deposit-into-closed",
    ),
    pytest.param([Open("a")], {"type": "account_opened", "account": "a"}, "already open", id="second-open"),
    pytest.param([Deposit("a", D("1"))], {"type": "account_closed", "account": "a"}, "balance", id="close-nonzero"),
    pytest.param(
        [Deposit("a", D("1")), Reverse(1)],
        {"type": "reversed", "target": 1, "account": "a", "amount": "1"},
        "already reversed",
        id="double-reversal",
    ),
    pytest.param(
        [Deposit("a", D("1"))],
        {"type": "reversed", "target": 2, "account": "a", "amount": "1"},
        "no earlier event",
        id="reversal-of-itself",
    ),
]


@pytest.mark.parametrize(("history", "values", "message"), FORGED)
def test_check_faults_a_recorded_event_that_breaks_a_rule(
    history: list[Command], values: dict[str, Any], message: str
) -> None:
    state = given(*history).state
    problem = check(state, forged(state, **values))
    assert problem is not None and message in problem


def test_check_passes_every_event_decide_recorded() -> None:
    commands: list[Command] = [
        Open("a"), Deposit("a", D("10")), Transfer("a", "b", D("4")), Withdraw("b", D("1")),
        Reverse(4), Withdraw("a", D("6")), Close("a"), Open("a"),
    ]  # fmt: skip
    books = given(*commands)
    replayed = State()
    for event in books.events:
        assert check(replayed, event) is None
        evolve(replayed, event)
    assert replayed.balances == books.state.balances


def test_reversal_matches_flags_a_reversal_that_does_not_undo_its_target() -> None:
    books = given(Deposit("a", D("5")), Transfer("a", "b", D("2")), Reverse(2))
    original, reversal = books.events[1], books.events[2]
    assert reversal_matches(reversal, original) is None
    wrong_way = forged(books.state, type="reversed", target=2, account="a", to="b", amount="2")
    assert reversal_matches(wrong_way, original) is not None
    wrong_amount = forged(books.state, type="reversed", target=2, account="b", to="a", amount="1")
    assert reversal_matches(wrong_amount, original) is not None
    not_a_movement = given(Open("x")).events[0]
    assert reversal_matches(reversal, not_a_movement) is not None


def test_ids_are_unique_time_ordered_version_7_uuids() -> None:
    import uuid

    from ledger_cli.stamps import uuid7

    ids = [uuid7() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    stamps = [int(text.replace("-", "")[:12], 16) for text in ids]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.time_ns() // 1_000_000) < 60_000
