"""`ledger export`: the books as a journal other tools check (hledger, Ledger 3, Beancount) or
as CSV postings, in date order, streamed.

Journals must be in date order (hledger's `check ordereddates`; balance assertions are checked
in date order), but the log is in recorded order. An entry dated by the local day of its ts
comes in date order by itself (ts never decreases); the others, the off-day entries (backdated,
or written in another zone), are listed by the books at the export's bound, read first and
merged in at their (date, seq) place. One walk of the log verifies every line and proves the
plan (no other entry is off-day, no date goes back). Memory grows with the off-day entries only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import IO, Protocol

from ledger_cli.dates import local_day
from ledger_cli.errors import InvalidValue, StoreError
from ledger_cli.events import DEPOSITED, REVERSED, WITHDRAWN, EventLike, date_of
from ledger_cli.money import format_amount, money_context
from ledger_cli.values import parse_account
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ledger_cli.fastexport import NativeWriter
    from ledger_cli.service import Ledger

FORMATS = ("hledger", "beancount", "csv")
INCOME, EXPENSE = "income:unknown", "expenses:unknown"  # hledger's own CSV defaults
ZERO = Decimal(0)


class Entry:
    """One event as the exports show it: its facts and its postings, each (account, amount),
    the other side of a deposit or withdrawal being a counter-account."""

    __slots__ = ("seq", "date", "ts", "type", "id", "hash", "prev", "key", "memo", "target", "amount", "postings")

    def __init__(self, ev: EventLike, date: str, postings: tuple[tuple[str, Decimal], ...]) -> None:
        self.seq, self.date, self.ts, self.type, self.id = ev.seq, date, ev.ts, ev.type, ev.id
        self.hash, self.prev, self.key, self.memo, self.target = ev.hash, ev.prev, ev.key, ev.memo, ev.target
        self.amount = ev.amount  # the recorded text: each posting is it or its negative
        self.postings = postings


class Writer(Protocol):
    """A format's writer: called with each entry in order; resume() takes over a C writer's state."""

    def __call__(self, entry: Entry) -> None: ...

    def resume(self, balances: dict[str, Decimal], opened: set[str], touched: set[str], day: str) -> None: ...


class Books:
    """What the export knows before it walks, from the books at its bound (a checkpoint's):
    the accounts, the largest scale, the off-day entries and which events are shown."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()  # those with an entry shown
        self.scale = 0
        self.events = 0  # shown (dated on or before --as-of)
        self.targets: set[int] = set()  # the seqs reversed by an entry shown
        self.status: dict[str, tuple[str, int, str]] = {}  # account -> its last open or close: (date, seq, type)
        self.seq = 0
        self.head = ""
        self.offday: dict[int, str] = {}  # seq -> date of every off-day entry up to the bound
        self.shown_offday: list[int] = []  # the seqs of those dated on or before --as-of


def postings(ev: EventLike, income: str, expense: str) -> tuple[tuple[str, Decimal], ...]:
    """Where an event's money came from and went to; opens and closes have one zero posting,
    the periods none. A reversal of a deposit gives back to the income account, of a
    withdrawal takes back from the expense account."""
    kind = ev.type
    if ev.amount is None:
        return ((ev.account, Decimal(0)),) if ev.account is not None else ()
    amount = Decimal(ev.amount)
    if kind == DEPOSITED:
        return ((ev.account, amount), (income, -amount))  # type: ignore[return-value]
    if kind == WITHDRAWN:
        return ((ev.account, -amount), (expense, amount))  # type: ignore[return-value]
    if kind == REVERSED:
        source = ev.account if ev.account is not None else expense
        destination = ev.to if ev.to is not None else income
        return ((source, -amount), (destination, amount))
    return ((ev.account, -amount), (ev.to, amount))  # type: ignore[return-value]


def plan(ledger: Ledger, bound: Point | None, as_of: str | None, income: str, expense: str) -> Books:
    """The books an export shows, from the state at its bound: no walk of the log.

    An entry is off-day when it is dated other than the local day of its ts (books.OffDay);
    every other entry is dated by its ts, so in log order their dates never decrease, and the
    ones dated on or before --as-of are those recorded before the local midnight that ends it
    (`cut`). The off-day ones are few and are merged in at their (date, seq) place."""
    from ledger_cli.books import ensure_offday
    from ledger_cli.when import day_end

    head = ledger.state(bound, keys=False, dated=False)
    if not ensure_offday(head):
        head = ledger.state(bound, keys=False, dated=True)
    for name in (income, expense):
        if name in head.balances:
            raise InvalidValue(
                f"the counter-account {name} is one of the books' accounts: name another "
                "(--income-account / --expense-account)"
            )
    books = Books()
    books.seq, books.head = head.seq, head.head if head.seq else ""
    books.offday = {seq: date for seq, date, *_ in head.offday}
    books.offday.update((seq, date) for seq, _, date in head.periods)  # (dated by the period, never by ts)
    view, cut = head, head.seq
    if as_of is not None:
        view = ledger.as_of(as_of, bound)
        cut = min(head.seq, ledger.state(day_end(as_of), keys=False, dated=False).seq)
    books.shown_offday = sorted(seq for seq, date in books.offday.items() if as_of is None or date <= as_of)
    books.events = cut - sum(1 for seq in books.offday if seq <= cut) + len(books.shown_offday)
    books.accounts = set(view.balances)
    for balance in view.balances.values():
        books.scale = max(books.scale, -int(balance.as_tuple().exponent))
    for account, entries in head.status.items():
        shown = [entry for entry in entries if as_of is None or entry[0] <= as_of]
        if shown:
            date, seq, opened = max(shown)
            books.status[account] = (date, seq, "account_opened" if opened else "account_closed")

    def is_shown(seq: int) -> bool:
        date = books.offday.get(seq)
        return seq <= cut if date is None else as_of is None or date <= as_of

    books.targets = {target for target, reversal in head.reversed_by.items() if is_shown(reversal)}
    return books


def offday_lines(ledger: Ledger, seqs: list[int]) -> dict[int, bytes]:
    """The lines (without newlines) of the events at `seqs`, read before the walk reaches them
    (which then proves each is the line it verified)."""
    if not seqs:
        return {}
    many = getattr(ledger.log, "lines_at", None)
    if many is not None:
        return dict(zip(seqs, many(seqs)))
    from ledger_cli.fastcodec import seal

    found = {}
    for seq in seqs:
        event = ledger.log.at(seq)
        if event is None:
            raise StoreError(f"event {seq} is missing: the log changed during the export")
        found[seq] = seal(event).rstrip(b"\n")
    return found


def _changed(what: str) -> StoreError:
    return StoreError(f"{what}: the checkpoint disagrees with the log (run the export again with --no-cache)")


class DateOrder:
    """Hands every entry of the books (up to the plan's head) to `emit` in (date, seq) order, in
    one verified walk of the log: the off-day entries, read first, wait for their place. With
    the C extension, fastexport writes the text itself until it hands over (`native`)."""

    def __init__(
        self, ledger: Ledger, books: Books, as_of: str | None, counters: tuple[str, str], emit: Writer
    ) -> None:
        self.ledger, self.books, self.as_of, self.counters, self.emit = ledger, books, as_of, counters, emit
        self.lines = offday_lines(ledger, books.shown_offday)
        self.early = sorted((books.offday[seq], seq) for seq in books.shown_offday)  # (date, seq) of each
        self.at = 0  # early[at] is the next to emit
        self.latest = ""  # the latest date of an entry not off-day, in log order
        self.native: NativeWriter | None = None  # the C writer (fastexport), which takes every block

    def entry(self, ev: EventLike, date: str) -> Entry:
        return Entry(ev, date, postings(ev, *self.counters))

    def early_entry(self, at: int) -> Entry:
        """The entry of early[at], decoded from the line read before the walk."""
        from ledger_cli.fastcodec import events_of

        date, seq = self.early[at]
        (ev,) = events_of(self.lines[seq])
        return self.entry(ev, date)  # type: ignore[arg-type]

    def visit(self, ev: EventLike) -> None:
        seq = ev.seq
        if seq in self.books.offday:
            self.check_skipped(seq, ev.hash)
            return
        date = date_of(ev)
        if ev.date is not None and date != local_day(ev.ts):
            raise _changed(f"event {seq} is dated {date}, not by its ts")
        if date < self.latest:
            raise _changed(f"event {seq} is dated before the one recorded ahead of it")
        self.latest = date
        if self.as_of is not None and date > self.as_of:
            return
        early = self.early
        while self.at < len(early) and early[self.at] < (date, seq):
            self.emit(self.early_entry(self.at))
            self.at += 1
        self.emit(self.entry(ev, date))

    def check_skipped(self, seq: int, digest: str | None) -> None:
        """An off-day entry met in log order is the one read before (if it is shown)."""
        from ledger_cli.fastcodec import hash_of

        line = self.lines.get(seq)
        if line is not None and hash_of(line) != digest:
            raise StoreError(f"event {seq} changed while it was exported")

    def blocks(self, block: bytes) -> None:
        """A walk's visitor of verified lines, many at a time."""
        from ledger_cli.fastcodec import events_of

        if self.native is not None:
            self.native.feed(block)
            return
        for ev in events_of(block):
            self.visit(ev)  # type: ignore[arg-type]

    def run(self) -> None:
        with money_context():  # (the writers' running balances: exact, or an error)
            books = self.books
            if books.seq:
                state = self.ledger.walk(self.blocks, Point(str(books.seq), seq=books.seq), lines=True)  # type: ignore[arg-type]
                if (state.seq, state.head) != (books.seq, books.head):
                    raise _changed(f"the log ends at event {state.seq}, not {books.seq}")
            if self.native is not None:
                self.native.end()
            else:
                self.finish()

    def finish(self) -> None:
        """After the walk: the off-day entries dated after every other, then the writer's end."""
        for at in range(self.at, len(self.early)):
            self.emit(self.early_entry(at))
        finish = getattr(self.emit, "finish", None)
        if finish is not None:
            finish()


def _not_the_log(ledger: Ledger, output: str | None) -> None:
    """-o naming the log itself (or another name of it) would replace the books: exit 2."""
    from ledger_cli.copying import same

    log = getattr(ledger.log, "path", None)
    if output is None or output == "-" or log is None:
        return
    if same(output, log):
        raise InvalidValue(f"-o {output} is the log itself: write the export somewhere else")


def write_out(target: str | None, produce: Callable[[IO[str]], None], *, whole: bool = False) -> None:
    """Write to stdout, or to FILE atomically (a temporary file beside it, fsynced, renamed).
    `whole`: to stdout too only once all of it is made (a value found late may refuse it)."""
    if (target is None or target == "-") and whole:
        import shutil
        import tempfile

        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n") as spool:
            produce(spool)
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout)
        sys.stdout.flush()
        return
    if target is None or target == "-":
        produce(sys.stdout)
        sys.stdout.flush()
        return
    folder = os.path.dirname(os.path.abspath(target))
    temporary = os.path.join(folder, f".{os.path.basename(target)}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as out:
            produce(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        raise InvalidValue(f"cannot write {target}: {exc.strerror}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class CsvWriter:
    """One RFC 4180 row per posting, for spreadsheets: the running balance is the account's
    after the posting, in the export's (date, seq) order."""

    HEADER = ("date", "seq", "ts", "account", "amount", "balance", "type", "memo", "key")

    def __init__(self, out: IO[str]) -> None:
        import csv

        self.out = out
        self.rows = csv.writer(out, lineterminator="\r\n")
        self.rows.writerow(self.HEADER)
        self.balances: dict[str, Decimal] = {}

    def resume(self, balances: dict[str, Decimal], opened: set[str], touched: set[str], day: str) -> None:
        self.balances.update(balances)

    def __call__(self, entry: Entry) -> None:
        recorded, balances = entry.amount, self.balances
        memo, key = entry.memo or "", entry.key or ""
        plain = not any(mark in memo or mark in key for mark in _CSV_MARKS)  # no field needs quoting
        for account, amount in entry.postings:
            balance = balances[account] = balances.get(account, ZERO) + amount
            shown = "0" if recorded is None else recorded if amount > 0 else "-" + recorded
            if plain:
                self.out.write(f"{entry.date},{entry.seq},{entry.ts},{account},{shown},{format_amount(balance)},"
                               f"{entry.type},{memo},{key}\r\n")  # fmt: skip
            else:
                self.rows.writerow((entry.date, entry.seq, entry.ts, account, shown, format_amount(balance),
                                    entry.type, memo, key))  # fmt: skip


_CSV_MARKS = (",", '"', "\r", "\n")  # (the other fields never hold one)


def export(
    ledger: Ledger,
    fmt: str,
    output: str | None,
    bound: Point | None,
    as_of: str | None,
    income: str,
    expense: str,
    currency: str = "CC",
    account_map: str | None = None,
) -> int:
    """`ledger export`: check the options, walk once to learn the books, then write them."""
    if fmt not in FORMATS:
        raise InvalidValue(f"invalid --format {fmt!r}: choose one of {', '.join(FORMATS)}")
    _not_the_log(ledger, output)
    income, expense = parse_account(income), parse_account(expense)
    books = plan(ledger, bound, as_of, income, expense)
    said = ""
    if bound is not None:
        said += f", known at {bound.text}"
    if as_of is not None:
        said += f", as of {as_of}"

    if fmt == "beancount":
        from ledger_cli import beancount

        names = beancount.names(books, (income, expense), currency, account_map)

    def produce(out: IO[str]) -> None:
        if fmt == "hledger":
            from ledger_cli.journal import JournalWriter

            emit: Writer = JournalWriter(out, books, (income, expense), said)
        elif fmt == "beancount":
            emit = beancount.BeancountWriter(out, books, names, currency, said)
        else:
            emit = CsvWriter(out)
        order = DateOrder(ledger, books, as_of, (income, expense), emit)
        from ledger_cli import fastexport

        order.native = fastexport.writer(order, fmt, out, names if fmt == "beancount" else None, currency)
        order.run()

    write_out(output, produce, whole=fmt == "beancount")
    return 0
