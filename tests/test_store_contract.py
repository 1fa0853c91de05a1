"""The store contract (issue 9): one suite every eventlog.EventLog must pass, in the shape of
eventsourcing's recorder test cases. An abstract case with a factory, subclassed once per store
(memory, JSON Lines file; PostgreSQL later)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli import folding
from ledger_cli.codec import seal
from ledger_cli.domain import Close, Command, Deposit, Open, Reverse, Transfer, Withdraw
from ledger_cli.errors import LockTimeout, LogCorrupt, RuleViolation
from ledger_cli.eventlog import EMPTY, EventLog
from ledger_cli.events import Event
from ledger_cli.filelog import FileLog
from ledger_cli.memlog import MemoryLog
from ledger_cli.service import Ledger
from ledger_cli.when import Point


def deposit(seq: int, prev: str, *, key: str | None = None, amount: str = "1") -> Event:
    return Event(
        type="deposited", seq=seq, id=f"00000000-0000-7000-8000-{seq:012d}", ts=f"2025-01-01T00:{seq // 60:02d}:"
        f"{seq % 60:02d}.000000Z", prev=prev, account="acct", amount=amount, key=key, date="2025-01-01",
    )  # fmt: skip


def grow(log: EventLog, count: int, *, keyed: bool = False) -> list[Event]:
    """Append `count` deposits in one batch after the head; returns them sealed."""
    with log.writing(5) as session:
        head = session.head()
        events: list[Event] = []
        prev = head.hash
        for seq in range(head.seq + 1, head.seq + count + 1):
            event = deposit(seq, prev, key=f"k{seq}" if keyed else None)
            seal(event)  # its hash, for the next one's prev (append seals again, to the same bytes)
            events.append(event)
            prev = event.hash or ""
        return session.append(events)


class StoreContract:
    """Subclasses provide `make()`: a new, empty store."""

    def make(self) -> EventLog:
        raise NotImplementedError

    def tamper(self, log: EventLog, seq: int) -> None:
        """Change event `seq`'s amount in place, keeping its old hash."""
        raise NotImplementedError

    @pytest.fixture
    def log(self) -> EventLog:
        return self.make()

    def test_an_empty_store_has_the_empty_head_and_no_events(self, log: EventLog) -> None:
        assert log.head() == EMPTY
        assert list(log.read()) == []
        assert log.at(1) is None and log.by_key("k") is None

    def test_appended_events_read_back_as_the_same_canonical_lines(self, log: EventLog) -> None:
        written = grow(log, 5)
        lines = [seal(event) for event in written]
        read = list(log.read())
        assert [seal(event) for event in read] == lines
        assert log.head() == (5, written[-1].hash, written[-1].ts)

    def test_a_batch_is_all_or_nothing(self, log: EventLog) -> None:
        grow(log, 2)
        head = log.head()
        good = deposit(3, head.hash)
        seal(good)
        broken = deposit(4, "f" * 64)  # does not follow event 3: a fork
        with pytest.raises(LogCorrupt), log.writing(5) as session:
            session.append([good, broken])
        assert log.head() == head and len(list(log.read())) == 2

    def test_an_event_that_does_not_continue_the_head_is_refused(self, log: EventLog) -> None:
        grow(log, 2)
        with log.writing(5) as session, pytest.raises(LogCorrupt):
            session.append([deposit(5, session.head().hash)])  # a gap
        with log.writing(5) as session, pytest.raises(LogCorrupt):
            session.append([deposit(3, "0" * 64)])  # a fork
        assert log.head().seq == 2

    def test_two_writers_serialise_without_a_gap(self, log: EventLog) -> None:
        def writer() -> None:
            for _ in range(15):
                grow(log, 1)

        threads = [threading.Thread(target=writer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        events = list(log.read())
        assert [event.seq for event in events] == list(range(1, 31))

    def test_a_writer_waits_for_the_lock_then_times_out(self, log: EventLog) -> None:
        held, release = threading.Event(), threading.Event()

        def holder() -> None:
            with log.writing(5):
                held.set()
                release.wait(10)

        thread = threading.Thread(target=holder)
        thread.start()
        try:
            assert held.wait(10)
            started = time.monotonic()
            with pytest.raises(LockTimeout), log.writing(0.2):
                pass
            assert time.monotonic() - started >= 0.2
        finally:
            release.set()
            thread.join(10)

    def test_at_and_by_key_find_the_event_in_and_out_of_a_session(self, log: EventLog) -> None:
        written = grow(log, 6, keyed=True)
        assert log.at(4) is not None and log.at(4).hash == written[3].hash  # type: ignore[union-attr]
        assert log.by_key("k5") is not None and log.by_key("k5").seq == 5  # type: ignore[union-attr]
        assert log.at(7) is None and log.by_key("nope") is None
        with log.writing(5) as session:
            assert session.at(2).hash == written[1].hash  # type: ignore[union-attr]
            assert session.by_key("k6").seq == 6  # type: ignore[union-attr]

    def test_bounds_are_inclusive_by_seq_and_by_instant(self, log: EventLog) -> None:
        written = grow(log, 6)
        assert [e.seq for e in log.read(until=Point("3", seq=3))] == [1, 2, 3]
        assert [e.seq for e in log.read(after=2, until=Point("5", seq=5))] == [3, 4, 5]
        assert [e.seq for e in log.read(until=Point("t", ts=written[3].ts))] == [1, 2, 3, 4]

    def test_a_tampered_event_is_named_by_its_seq(self, log: EventLog) -> None:
        grow(log, 5)
        self.tamper(log, 3)
        with pytest.raises(LogCorrupt) as refused:
            list(log.read())
        assert refused.value.line == 3

    def test_snapshots_are_kept_by_seq_and_hash_and_never_outlive_their_event(self, log: EventLog) -> None:
        written = grow(log, 4)
        log.snapshots.save(2, written[1].hash or "", b"books after 2")
        log.snapshots.save(3, "e" * 64, b"books of another history")
        best = log.snapshots.best()
        assert best is not None and (best.seq, best.data) == (2, b"books after 2")
        assert log.snapshots.best(until=1) is None

    def test_follow_yields_new_events_as_they_are_appended(self, log: EventLog) -> None:
        grow(log, 1)
        seen: list[int] = []
        follower = threading.Thread(target=lambda: seen.extend(e.seq for e in log.follow(0, stop=1.5)))
        follower.start()
        time.sleep(0.2)
        grow(log, 2)
        follower.join(20)
        assert seen == [1, 2, 3]

    # ---- the application over the store ------------------------------------------------------

    def test_the_same_commands_give_the_same_head_and_books_as_the_reference(self, log: EventLog) -> None:
        ours, reference = pinned(log), pinned(MemoryLog())
        for ledger in (ours, reference):
            run_commands(ledger)
        assert log.head() == reference.log.head()
        assert list(log.read()) == list(reference.log.read())
        assert log.books() == reference.state()
        for seq in range(log.head().seq + 1):
            bound = Point(str(seq), seq=seq)
            assert log.books(bound) == folding.fold(reference.log, bound), seq

    def test_books_walk_and_verify_agree_with_the_reference_fold(self, log: EventLog) -> None:
        ledger = pinned(log)
        run_commands(ledger)
        seen: list[int] = []
        assert log.walk(lambda ev: seen.append(ev.seq)) == folding.fold(log)
        assert seen == [event.seq for event in log.read()]
        report, expected = log.verify(), folding.verify(log)
        assert (report.ok, report.events, report.head) == (expected.ok, expected.events, expected.head) == (
            True, log.head().seq, log.head().hash,
        )  # fmt: skip

    def test_a_refused_command_and_a_keyed_retry_leave_the_store_as_it_was(self, log: EventLog) -> None:
        ledger = pinned(log)
        run_commands(ledger)
        before = list(log.read())
        with pytest.raises(RuleViolation):
            ledger.execute(Withdraw("cash", Decimal("1e6")))
        event, new = ledger.execute(Deposit("cash", Decimal("100.50"), MEMO, "pay-1"))
        assert not new and event == log.by_key("pay-1")
        assert list(log.read()) == before

    def test_vouch_verifies_every_event_and_a_tampered_one_is_named(self, log: EventLog) -> None:
        grow(log, 5)
        assert log.vouch() == log.known_good()
        self.tamper(log, 4)
        assert not log.known_good()  # a change the store did not make is never vouched for
        with pytest.raises(LogCorrupt, match="line 4"):
            log.vouch()

    def test_a_tampered_event_fails_verify_at_its_seq(self, log: EventLog) -> None:
        grow(log, 5)
        self.tamper(log, 4)
        report = log.verify()
        assert not report.ok and report.events == 3 and "line 4" in report.problems[0]


class Stepping:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"2025-02-01T00:{self.n // 60:02d}:{self.n % 60:02d}.000000Z"


def pinned(log: EventLog) -> Ledger:
    ids = iter(range(1, 10_000))
    return Ledger(log, clock=Stepping(), new_id=lambda: f"00000000-0000-7000-8000-{next(ids):012d}")


MEMO = 'say "hi" \\ café'
COMMANDS: list[Command] = [
    Open("cash"),
    Deposit("cash", Decimal("100.50"), memo=MEMO, key="pay-1"),
    Transfer("cash", "bank", Decimal("40")),
    Reverse(3),
    Withdraw("cash", Decimal("0.25")),
    Deposit("spare", Decimal("1")),
    Withdraw("spare", Decimal("1")),
    Close("spare"),
]


def run_commands(ledger: Ledger) -> None:
    for command in COMMANDS:
        ledger.execute(command)
    batch = [(1, Deposit("cash", Decimal("2"), key="pay-2")), (2, Deposit("cash", Decimal("100.50"), MEMO, "pay-1"))]
    assert ledger.import_commands(batch) == (1, 1, len(COMMANDS) + 1)


REFERENCE_HEAD: list[str] = []


def _reference_head() -> str:
    """The head hash of six known deposits, as the in-memory reference store computes it."""
    if not REFERENCE_HEAD:
        memory = MemoryLog()
        grow(memory, 6, keyed=True)
        REFERENCE_HEAD.append(memory.head().hash)
    return REFERENCE_HEAD[0]


class TestMemoryLog(StoreContract):
    def make(self) -> EventLog:
        return MemoryLog()

    def tamper(self, log: EventLog, seq: int) -> None:
        assert isinstance(log, MemoryLog)
        log.lines[seq - 1] = log.lines[seq - 1].replace(b'"amount":"1"', b'"amount":"9"')

    def test_the_same_events_give_the_reference_head(self) -> None:
        log = self.make()
        grow(log, 6, keyed=True)
        assert log.head().hash == _reference_head()


class TestFileLog(StoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    def make(self) -> EventLog:
        return FileLog(str(self.folder / "log.jsonl"))

    def tamper(self, log: EventLog, seq: int) -> None:
        path = self.folder / "log.jsonl"
        lines = path.read_bytes().split(b"\n")
        lines[seq - 1] = lines[seq - 1].replace(b'"amount":"1"', b'"amount":"9"')
        path.write_bytes(b"\n".join(lines))

    def test_the_same_events_give_the_reference_head_and_the_file_holds_its_lines(self) -> None:
        log = self.make()
        written = grow(log, 6, keyed=True)
        assert log.head().hash == _reference_head()
        assert (self.folder / "log.jsonl").read_bytes() == b"".join(seal(event) for event in written)
