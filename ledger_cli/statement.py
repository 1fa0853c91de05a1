"""A bank's CSV statement read through its rules (csvrules) as import records, dated by the
statement: money in is a deposit to account1; money out a transfer to account2 when a rule
sets one (an expense bucket such as expenses:food), else a withdrawal. Rows go in date order
(stable, as hledger orders them), so a statement listed newest first imports the same.

Each row gets an idempotency key: `bank:ACCOUNT1:ID` when the rules assign `key` (the bank's
own transaction id), else `bank:ACCOUNT1:` and a digest of the row's cells and how many times
the same row came before it in the file, so importing the same or an overlapping statement
again records each row once (two equal purchases on one day stay two).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation

from ledger_cli.csvrules import Rules
from ledger_cli.errors import InvalidValue
from ledger_cli.money import format_amount

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ledger_cli.batch import Record
    from ledger_cli.commands import Command


_PLAIN = re.compile(r"(-?)([0-9]+(?:\.[0-9]+)?)").fullmatch  # the common case: 12.50, -7


def _amount(text: str, where: str) -> Decimal:
    """hledger's signs: a leading + is dropped, (x) is -x, --x is x; no digit groups."""
    plain = _PLAIN(text)
    if plain is not None:
        amount = Decimal(plain.group(2))
        return -amount if plain.group(1) else amount
    value = text.strip().replace(" ", "")
    negative = False
    if value.startswith("(") and value.endswith(")"):
        value, negative = value[1:-1], True
    if value.startswith("--"):
        value = value[2:]
    elif value.startswith("-"):
        value, negative = value[1:], not negative
    elif value.startswith("+"):
        value = value[1:]
    if not value or not all(c.isdigit() or c == "." for c in value) or value.count(".") > 1:
        raise InvalidValue(f"{where}: the amount {text!r} is not a decimal number")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidValue(f"{where}: the amount {text!r} is not a decimal number") from None
    return -amount if negative else amount


def rows(data: bytes, name: str, rules: Rules) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each data row after `skip` lines."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidValue(f"{name} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=rules.separator, strict=True)
    try:
        for cells in reader:
            number = reader.line_num
            if number <= rules.skip or not "".join(cells).strip():
                continue
            yield number, cells
    except csv.Error as exc:
        raise InvalidValue(f"{name} line {reader.line_num}: {exc}") from None


Row = tuple[str, int, str, str, "str | None", str, "str | None", str]  # day, line, type, account, to, amount, memo, key


def entries(data: bytes, name: str, rules: Rules) -> tuple[list[Row], int]:
    """The rows of a statement as what each records, in date order, and how many rows had a
    zero amount (skipped: an amount must be more than zero)."""
    found: list[Row] = []
    seen: dict[str, int] = {}
    days: dict[str, str] = {}  # a statement's dates repeat: each is parsed once
    zero = 0
    numbers = [str(i) for i in range(1, 1000)]
    for number, cells in rows(data, name, rules):
        where = f"{name} line {number}"
        stripped = [cell.strip() for cell in cells]
        if rules.numbered:
            values = dict(zip(numbers, stripped))
            values.update(zip(rules.fields, stripped))
        else:
            values = dict(zip(rules.fields, stripped))
        chosen = rules.values_for(values, ",".join(cells) if rules.whole else "")
        account = chosen.get("account1", "")
        if not account:
            raise InvalidValue(f"{where}: no account1 (give `account1 assets:bank` in {rules.path})")
        given_day = chosen.get("date", "")
        day = days.get(given_day)
        if day is None:
            try:
                day = datetime.strptime(given_day, rules.date_format).date().isoformat()
            except ValueError:
                raise InvalidValue(f"{where}: the date {given_day!r} does not match {rules.date_format}") from None
            days[given_day] = day
        amount = _money(chosen, where)
        if amount == 0:
            zero += 1
            continue
        description, comment = chosen.get("description", ""), chosen.get("comment", "")
        memo = f"{description} {comment}" if description and comment else description or comment or None
        given = chosen.get("key", "")
        if given:
            key = f"bank:{account}:{given}"
        else:
            digest = "\x1f".join(stripped)
            seen[digest] = seen.get(digest, 0) + 1
            key = f"bank:{account}:{hashlib.sha256(digest.encode()).hexdigest()[:32]}:{seen[digest]}"
        to = chosen.get("account2") or None if amount < 0 else None
        kind = "deposit" if amount > 0 else "transfer" if to else "withdraw"
        found.append((day, number, kind, account, to, format_amount(abs(amount)), memo, key))
    found.sort(key=lambda row: row[0])  # stable: a day's rows keep the file's order
    return found, zero


def records(found: list[Row]) -> list[tuple[int, Record]]:
    """The statement's rows as import records (batch's, compact: what --dry-run prints)."""
    from ledger_cli.batch import as_record

    return [
        (number, as_record({"type": kind, "account": account, "to": to, "amount": amount, "memo": memo,
                            "key": key, "date": day}))
        for day, number, kind, account, to, amount, memo, key in found
    ]  # fmt: skip


def commands(found: list[Row]) -> Iterator[tuple[int, Command]]:
    """The statement's rows as commands, each value checked as batch checks a record's (an
    error names the statement's line): without building the records in between."""
    from ledger_cli.batch import RecordError, _Cache
    from ledger_cli.commands import Deposit, Transfer, Withdraw
    from ledger_cli.values import parse_key, parse_memo

    cache = _Cache()
    memos: dict[str, str | None] = {}  # a statement's descriptions repeat
    for day, number, kind, account, to, amount, memo, key in found:
        try:  # (in batch.move_command's order: of two bad values, the same one is named)
            name = cache.account(account)
            text = None if memo is None else memos.get(memo)
            if memo is not None and text is None:
                text = parse_memo(memo)
                if len(memos) < cache.LIMIT:
                    memos[memo] = text
            checked, date = parse_key(key), cache.date(day)
            if to is not None:
                destination = cache.account(to)
                yield number, Transfer(name, destination, cache.amount(amount), text, checked, date)
            else:
                move = Deposit if kind == "deposit" else Withdraw
                yield number, move(name, cache.amount(amount), text, checked, date)
        except InvalidValue as exc:
            raise RecordError(number, str(exc)) from None


def _money(chosen: dict[str, str], where: str) -> Decimal:
    if chosen.get("amount"):
        return _amount(chosen["amount"], where)
    incoming, outgoing = chosen.get("amount-in", ""), chosen.get("amount-out", "")
    if not incoming and not outgoing:
        raise InvalidValue(f"{where}: no amount (give `amount` or `amount-in`/`amount-out` in the rules)")
    money_in = abs(_amount(incoming, where)) if incoming else Decimal(0)
    money_out = abs(_amount(outgoing, where)) if outgoing else Decimal(0)
    if money_in and money_out:
        raise InvalidValue(f"{where}: both amount-in and amount-out have a value")
    return money_in or -money_out
