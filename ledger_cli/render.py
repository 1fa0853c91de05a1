"""Output: table (rich), tsv, csv, json and jsonl, from report data.

rich is imported only inside the functions that draw a table or a progress display, so a command printing
TSV in a pipe never pays for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal

from ledger_cli.codec import dated_line, line_of, with_member
from ledger_cli.dates import local_day, shift
from ledger_cli.events import Event, date_of
from ledger_cli.money import format_amount
from ledger_cli.reports import AccountRow, BalanceReport
from ledger_cli.streams import say, write_bytes

TYPE_CHECKING = False  # typing itself costs start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

    from ledger_cli.periods import PeriodReport

FORMATS = ("table", "tsv", "csv", "json", "jsonl")
HISTORY_COLUMNS = (
    "v", "seq", "ts", "date", "type", "account", "to", "amount", "target", "memo", "key", "id", "prev", "hash",
)  # fmt: skip


def choose_format(requested: str | None, as_json: bool) -> str:
    """--json wins; else the requested format; else table on a terminal and TSV in a pipe."""
    if as_json:
        return "json"
    if requested:
        return requested
    from ledger_cli.pager import on_terminal

    return "table" if on_terminal() else "tsv"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _print_table(
    columns: list[tuple[str, str]],
    rows: Iterable[list[str]],
    footer: str | None = None,
    *,
    keep: Iterable[str] = (),
    compact: bool = False,
) -> None:
    """Draw a rich table. Cells are plain Text: an account named `a:bank:b` must not turn
    into an emoji, nor `[x]` into markup. `keep` names columns that must not wrap."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    unwrapped = set(keep)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True) if compact else Table()
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=name in unwrapped)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    from ledger_cli.pager import width

    paged = width()  # (through a pager: as on the terminal it shows on, colours kept by less -R)
    console = Console(emoji=False, markup=False, highlight=False, width=paged, force_terminal=True if paged else None)
    console.print(table)
    if footer:
        sys.stdout.write(footer + "\n")


def _bound(report: BalanceReport) -> str:
    return known_at(report.seq, report.ts, report.as_of)


def known_at(seq: int, ts: str | None, as_of: str | None) -> str:
    """The bounds a report resolved: `as of D (by date), known at seq N (ts)`, or without a
    date `as of seq N (ts)`."""
    where = f"seq {seq}" + (f" ({ts})" if ts else " (empty log)")
    return f"as of {as_of} (by date), known at {where}" if as_of is not None else f"as of {where}"


def _account_json(row: AccountRow) -> dict[str, Any]:
    return {"account": row.account, "balance": format_amount(row.balance), "open": row.open}


def balance(report: BalanceReport, fmt: str, *, replay: bool = False, bound_given: bool = False) -> None:
    out = sys.stdout
    if fmt in ("json", "jsonl"):
        data: dict[str, Any] = {
            "seq": report.seq,
            "ts": report.ts,
            "as_of": report.as_of,
            "accounts": [_account_json(row) for row in report.rows],
            "total": format_amount(report.total),
        }
        if replay:
            data["events"] = report.seq
            data["head"] = report.head
        if fmt == "json":
            out.write(_dumps(data) + "\n")
            return
        out.writelines(_dumps(_account_json(row)) + "\n" for row in report.rows)
    elif fmt == "table":
        rows = [[row.account + ("" if row.open else " (closed)"), format_amount(row.balance)] for row in report.rows]
        rows.append(["Total", format_amount(report.total)])
        footer = _bound(report)
        if replay:
            footer += f": {report.seq} events applied, head {report.head}"
        _print_table([("Account", "left"), ("Balance", "right")], rows, footer, keep=("Balance",))
        return
    elif fmt == "csv":
        out.write(
            _csv(
                ("account", "balance", "open"),
                ((r.account, format_amount(r.balance), str(r.open).lower()) for r in report.rows),
            )
        )
    else:
        out.writelines(f"{row.account}\t{format_amount(row.balance)}\n" for row in report.rows)
    if replay:
        say(f"ledger: {_bound(report)}: {report.seq} events applied, head {report.head}")
    elif bound_given:
        say(f"ledger: {_bound(report)}")


def accounts(rows: list[AccountRow], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        out.write(_dumps({"accounts": [_account_json(row) for row in rows]}) + "\n")
    elif fmt == "jsonl":
        out.writelines(_dumps(_account_json(row)) + "\n" for row in rows)
    elif fmt == "csv":
        out.write(
            _csv(
                ("account", "balance", "open"),
                ((r.account, format_amount(r.balance), str(r.open).lower()) for r in rows),
            )
        )
    elif fmt == "table":
        _print_table([("Account", "left"), ("Status", "left"), ("Balance", "right")],
                     ([r.account, "open" if r.open else "closed", format_amount(r.balance)] for r in rows))  # fmt: skip
    else:
        out.writelines(f"{r.account}\t{'open' if r.open else 'closed'}\n" for r in rows)


def history_record(event: Event, balance: Decimal | None) -> dict[str, Any]:
    record = event.to_dict()
    if event.date is None:  # a v1 event: the date it means (the local date of its ts)
        record["date"] = date_of(event)
    if balance is not None:
        record["balance"] = format_amount(balance)
    return record


class HistoryWriter:
    """Formats history rows as they come. With `stream` (the log is known good: the read
    cannot fail half-way), straight to stdout, so `history | head -1` does not wait for the
    whole log; otherwise into a spool (memory up to 4 MiB, then a temporary file) copied to
    stdout only in `finish`, so a read that fails half-way prints nothing. Either way a history
    of a million events needs little memory. A table collects its rows.

    jsonl rows are the log's own lines (canonical, `hash` last; `balance` after it when an
    account is asked for): `add_lines` takes them as they are, undecoded."""

    _TSV = ("seq", "ts", "date", "type", "account", "to", "amount", "target", "memo")

    def __init__(self, fmt: str, with_balance: bool, *, stream: bool = False) -> None:
        self.fmt = fmt
        self.with_balance = with_balance
        self.columns = list(HISTORY_COLUMNS) + (["balance"] if with_balance else [])
        self.count = 0
        self.table: list[list[str]] = []
        self._csv: Any = None
        self._lines: list[bytes] = []  # jsonl rows not yet written, `_pending` bytes of them
        self._pending = 0
        self.stream = stream
        self.binary = fmt == "jsonl"  # its rows are bytes (log lines): spooled as they are
        if stream:
            self.out: Any = sys.stdout
        else:
            import tempfile

            if self.binary:
                self.out = tempfile.SpooledTemporaryFile(max_size=4 << 20, mode="w+b")
            else:
                self.out = tempfile.SpooledTemporaryFile(max_size=4 << 20, mode="w+", encoding="utf-8", newline="")

    def add_lines(self, lines: bytes) -> None:
        """jsonl rows: verified log lines, one or more joined by newlines (not after the last)."""
        self._lines.append(lines)
        self._pending += len(lines)
        if self._pending >= 1 << 16:
            self._flush_lines()

    def _flush_lines(self) -> None:
        if self._lines:
            self._lines.append(b"")
            data = b"\n".join(self._lines)
            self._lines = []
            self._pending = 0
            if self.stream:
                write_bytes(data)
            else:
                self.out.write(data)

    def flush(self) -> None:
        """Everything added so far out now (history --follow: a line per event)."""
        self._flush_lines()
        self.out.flush()

    def add(self, ev: Event, balance: Decimal | None) -> None:
        out = self.out
        fmt = self.fmt
        if fmt == "jsonl":
            line = dated_line(line_of(ev))
            self.add_lines(line if balance is None else with_member(line, "balance", format_amount(balance)))
            return
        self.count += 1  # json opens its list at the first row
        if fmt == "table":
            self.table.append(_history_cells(ev, balance))
            return
        record = history_record(ev, balance)
        if fmt == "json":
            out.write(("[" if self.count == 1 else ", ") + _dumps(record))
        elif fmt == "csv":
            self._csv_writer().writerow(["" if record.get(n) is None else str(record[n]) for n in self.columns])
        else:
            names = self._TSV + (("balance",) if self.with_balance else ())
            out.write("\t".join("" if record.get(n) is None else str(record[n]) for n in names) + "\n")

    def _csv_writer(self) -> Any:
        if self._csv is None:
            import csv

            self._csv = csv.writer(self.out, lineterminator="\r\n")
            self._csv.writerow(self.columns)
        return self._csv

    def finish(self) -> None:
        self._flush_lines()
        if self.fmt == "json":
            self.out.write("]\n" if self.count else "[]\n")
        elif self.fmt == "csv":
            self._csv_writer()  # the header, even for no rows
        if not self.stream:
            self.out.seek(0)
            copy = write_bytes if self.binary else sys.stdout.write
            while chunk := self.out.read(1 << 20):
                copy(chunk)
            self.out.close()
        if self.fmt == "table":
            titles = ["Seq", "Date", "Event", "Account", "Amount"]
            titles += (["Balance"] if self.with_balance else []) + ["Memo"]
            right = {"Seq", "Amount", "Balance"}
            _print_table(
                [(title, "right" if title in right else "left") for title in titles],
                self.table,
                keep=("Seq", "Date", "Event", "Account", "Amount", "Balance"),
                compact=True,
            )


_SHORT_TYPES = {
    "account_opened": "open",
    "deposited": "deposit",
    "withdrawn": "withdraw",
    "transferred": "transfer",
    "account_closed": "close",
    "reversed": "reverse",
    "period_closed": "close period",
    "period_reopened": "reopen period",
}


def _history_cells(ev: Event, balance: Decimal | None) -> list[str]:
    """A compact history row for a terminal: the date (the recorded time is in every other
    format), `from → to` in one cell."""
    kind = _SHORT_TYPES.get(ev.type, ev.type) + (f" {ev.target}" if ev.target is not None else "")
    if ev.account and ev.to:
        where = f"{ev.account} → {ev.to}"
    elif ev.account or ev.to:
        where = ev.account or f"→ {ev.to}"
    else:
        where = ""
    cells = [str(ev.seq), date_of(ev), kind, where, ev.amount or ""]
    return cells + ([format_amount(balance)] if balance is not None else []) + [ev.memo or ""]


def describe(event: Event) -> str:
    """A short sentence for what an event records."""
    amount = event.amount
    if event.type == "deposited":
        return f"deposited {amount} to {event.account}"
    if event.type == "withdrawn":
        return f"withdrew {amount} from {event.account}"
    if event.type == "transferred":
        return f"transferred {amount} from {event.account} to {event.to}"
    if event.type == "account_opened":
        return f"opened {event.account}"
    if event.type == "account_closed":
        return f"closed {event.account}"
    if event.type == "period_closed":
        return f"closed the books through {event.date}"
    if event.type == "period_reopened":
        return f"reopened the books from {event.date} (closed through {shift(str(event.date), -1)})"
    return f"reversed event {event.target} ({amount})"


def _dated(event: Event) -> str:
    """What a write prints after the event's description: its date, when not the day it was
    recorded (a backdated entry)."""
    if event.type in ("period_closed", "period_reopened") or event.date is None:
        return ""
    return "" if event.date == local_day(event.ts) else f", dated {event.date}"


def recorded(event: Event, fmt: str | None, *, new: bool, quiet: bool) -> None:
    """What a write command prints: one line, the event as JSON, or nothing."""
    if quiet:
        return
    if fmt == "json":
        sys.stdout.write(_dumps(event.to_dict()) + "\n")
    elif new:
        sys.stdout.write(f"recorded seq {event.seq}: {describe(event)}{_dated(event)}\n")
    else:
        sys.stdout.write(f"already recorded as seq {event.seq} (same idempotency key): {describe(event)}\n")


def copied(count: int, seq: int, head: str, destination: str, fmt: str | None) -> None:
    """What `ledger copy` reached: how many events it appended, and DST's head."""
    if fmt == "json":
        sys.stdout.write(_dumps({"copied": count, "seq": seq, "head": head}) + "\n")
    else:
        sys.stdout.write(
            f"copied {count} event{'s' if count != 1 else ''}: {destination} is at seq {seq}, head {head}\n"
        )


def verified(ok: bool, events: int, head: str, problems: list[str], fmt: str, held: list[str] | None = None) -> None:
    """verify's verdict; `held` names the statements (--against) found to hold."""
    if fmt in ("json", "jsonl"):
        data = {"ok": ok, "events": events, "head": head, "problems": problems}
        if held is not None:
            data["statements_held"] = held
        sys.stdout.write(_dumps(data) + "\n")
    elif ok:
        sys.stdout.write(f"ok: {events} events, head {head}\n")
        for path in held or ():
            sys.stdout.write(f"ok: {path} holds: the history it saw is intact and its balances are unchanged\n")
    else:
        for problem in problems:
            say(f"ledger: verify failed: {problem}")


def with_progress(items: Iterator[Any]) -> Iterator[Any]:
    """Count records on stderr with a rich progress display (only when stderr is a terminal)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.completed} records checked"), transient=True) as progress:
        task = progress.add_task("import", total=None)
        for index, item in enumerate(items, 1):
            if index % 1000 == 0:
                progress.update(task, completed=index)
            yield item


def periods(report: PeriodReport, fmt: str) -> None:
    """`balance --by`: wide for a person or a spreadsheet (an account a row, a period a column,
    a total row), long for a program (one object per account and period)."""
    out, what = sys.stdout, "change" if report.change else "balance"
    labels = [period.label for period in report.periods]
    rows = [(account, [format_amount(v) for v in values]) for account, values in report.rows]
    totals = [format_amount(v) for v in report.totals]
    if fmt in ("json", "jsonl"):
        items: list[dict[str, Any]] = [
            {"account": account, "period": p.label, "first": p.first, "last": p.last, what: value}
            for account, values in rows
            for p, value in zip(report.periods, values)
        ]
        items += [
            {"account": None, "period": p.label, "first": p.first, "last": p.last, what: value}
            for p, value in zip(report.periods, totals)
        ]  # fmt: skip  (the total: account null)
        out.write(_dumps(items) + "\n" if fmt == "json" else "".join(_dumps(item) + "\n" for item in items))
    elif fmt == "table":
        columns = [("Account", "left")] + [(label, "right") for label in labels]
        body = [[account, *values] for account, values in rows] + [["Total", *totals]]
        footer = "balance at each period's end" if what == "balance" else "change within each period"
        _print_table(columns, body, footer, keep=labels)
    elif fmt == "csv":
        out.write(_csv(("account", *labels), [[a, *v] for a, v in rows] + [["total", *totals]]))
    else:
        out.writelines("\t".join((a, *v)) + "\n" for a, v in [("account", labels), *rows, ("total", totals)])
