"""`ledger export`: the books as a journal other tools check (hledger, Ledger 3, Beancount) or
as CSV postings, in date order, streamed.

Journals must be in date order (hledger's `check ordereddates`; balance assertions are checked
in date order), but the log is in recorded order and an entry may be dated days before the
ones recorded ahead of it. Two walks of the log, each verifying it: the first finds the
accounts, the largest scale and the few entries dated before some entry recorded earlier
("late" ones, held in memory); the second streams every other entry in log order (their dates
never decrease) and merges the late ones in at their (date, seq) place. Memory grows with the
late entries only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import IO

from ledger_cli.errors import InvalidValue
from ledger_cli.events import DEPOSITED, REVERSED, WITHDRAWN, EventLike, date_of
from ledger_cli.money import format_amount, money_context
from ledger_cli.values import parse_account
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
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


class Books:
    """What the first walk learns: the accounts, the largest scale, the late entries, the bound."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.scale = 0
        self.late: list[Entry] = []
        self.events = 0  # shown (dated on or before --as-of)
        self.targets: set[int] = set()  # the seqs reversed by an entry shown
        self.status: dict[str, tuple[str, int, str]] = {}  # account -> its last open or close: (date, seq, type)
        self.seq = 0
        self.head = ""


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


def first_walk(ledger: Ledger, bound: Point | None, as_of: str | None, income: str, expense: str) -> Books:
    books = Books()
    latest = ""

    def visit(ev: EventLike) -> None:
        nonlocal latest
        date = date_of(ev)
        if as_of is not None and date > as_of:
            return
        books.events += 1
        if ev.account is not None:
            books.accounts.add(ev.account)
        if ev.to is not None:
            books.accounts.add(ev.to)
        if ev.amount is not None and "." in ev.amount:
            books.scale = max(books.scale, len(ev.amount) - ev.amount.index(".") - 1)
        if ev.target is not None:
            books.targets.add(ev.target)
        if ev.amount is None and ev.account is not None:  # an open or a close
            mark = (date, ev.seq, ev.type)
            if mark > books.status.get(ev.account, ("", 0, "")):
                books.status[ev.account] = mark
        if date < latest:
            books.late.append(Entry(ev, date, postings(ev, income, expense)))
        else:
            latest = date

    with money_context():
        state = ledger.walk(_decoded(visit), bound, lines=True)  # type: ignore[arg-type]
    books.seq, books.head = state.seq, state.head
    books.late.sort(key=lambda entry: (entry.date, entry.seq))
    for name in (income, expense):
        if name in books.accounts:
            raise InvalidValue(
                f"the counter-account {name} is one of the books' accounts: name another "
                "(--income-account / --expense-account)"
            )
    return books


def _decoded(visit: Callable[[EventLike], None]) -> Callable[[bytes], None]:
    """A walk's visitor of verified lines (many at a time) that decodes them in one call."""
    from ledger_cli.fastcodec import events_of

    def lines(block: bytes) -> None:
        for ev in events_of(block):
            visit(ev)  # type: ignore[arg-type]  # (a FastEvent: its hash is never None)

    return lines


def in_date_order(
    ledger: Ledger, books: Books, as_of: str | None, income: str, expense: str, emit: Callable[[Entry], None]
) -> None:
    """Hand every entry of the books (up to the first walk's head) to `emit` in (date, seq)
    order, as the second walk goes (nothing but the late entries is held)."""
    late = books.late
    late_seqs = {entry.seq for entry in late}
    at = 0

    def visit(ev: EventLike) -> None:
        nonlocal at
        if ev.seq in late_seqs:
            return
        date = date_of(ev)
        if as_of is not None and date > as_of:
            return
        while at < len(late) and (late[at].date, late[at].seq) < (date, ev.seq):
            emit(late[at])
            at += 1
        emit(Entry(ev, date, postings(ev, income, expense)))

    if books.seq:
        with money_context():
            ledger.walk(_decoded(visit), Point(str(books.seq), seq=books.seq), lines=True)  # type: ignore[arg-type]
    for entry in late[at:]:
        emit(entry)


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
    books = first_walk(ledger, bound, as_of, income, expense)
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

            emit: Callable[[Entry], None] = JournalWriter(out, books, (income, expense), said)
        elif fmt == "beancount":
            emit = beancount.BeancountWriter(out, books, names, currency, said)
        else:
            emit = CsvWriter(out)
        in_date_order(ledger, books, as_of, income, expense, emit)
        if fmt == "beancount":
            emit.finish()  # type: ignore[attr-defined]

    write_out(output, produce, whole=fmt == "beancount")
    return 0
