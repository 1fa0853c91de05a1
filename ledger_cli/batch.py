"""Parsing `ledger import` input: JSON Lines or CSV records into commands.

A record has `type` (open, deposit, withdraw, transfer, close), `account`, `to`,
`amount`, `memo` and `key`. Every value goes through the same parsers as the command
line, so an import accepts exactly what the commands accept. Errors name the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

from ledger_cli.domain import Close, Command, Deposit, Open, Transfer, Withdraw
from ledger_cli.errors import InvalidValue
from ledger_cli.money import parse_amount
from ledger_cli.values import parse_account, parse_key, parse_memo

FIELDS = ("type", "account", "to", "amount", "memo", "key")
_NEEDS = {
    "open": ("account",),
    "close": ("account",),
    "deposit": ("account", "amount"),
    "withdraw": ("account", "amount"),
    "transfer": ("account", "to", "amount"),
}


class _Cache:
    """Account names and amounts repeat a lot in a batch: parse each distinct text once."""

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}
        self.amounts: dict[str, Decimal] = {}

    def account(self, text: str) -> str:
        name = self.accounts.get(text)
        if name is None:
            name = self.accounts[text] = parse_account(text)
        return name

    def amount(self, text: str) -> Decimal:
        value = self.amounts.get(text)
        if value is None:
            value = parse_amount(text)
            if len(self.amounts) < 100_000:
                self.amounts[text] = value
        return value


def to_command(record: dict[str, object], cache: _Cache) -> Command:
    """One record as a command, or InvalidValue naming what is wrong."""
    kind = record.get("type")
    unknown = set(record) - set(FIELDS)
    if unknown:
        raise InvalidValue(f"unknown field {sorted(unknown)[0]!r}")
    if kind not in _NEEDS:
        raise InvalidValue(f"type must be one of {', '.join(_NEEDS)}, not {kind!r}")
    for name, value in record.items():
        if value is not None and not isinstance(value, str):
            raise InvalidValue(f'field {name!r} must be a string (amounts too: "12.50", never a number)')
    for name in _NEEDS[kind]:  # type: ignore[index]
        if not record.get(name):
            raise InvalidValue(f"a {kind} record needs {name!r}")
    extra = {"to", "amount"} - set(_NEEDS[kind])  # type: ignore[index]
    for name in extra:
        if record.get(name):
            raise InvalidValue(f"a {kind} record takes no {name!r}")
    account = cache.account(record["account"])  # type: ignore[arg-type]
    memo = parse_memo(record.get("memo"))  # type: ignore[arg-type]
    key = parse_key(record.get("key") or None)  # type: ignore[arg-type]
    if kind == "deposit":
        return Deposit(account, cache.amount(record["amount"]), memo, key)  # type: ignore[arg-type]
    if kind == "withdraw":
        return Withdraw(account, cache.amount(record["amount"]), memo, key)  # type: ignore[arg-type]
    if kind == "transfer":
        to = cache.account(record["to"])  # type: ignore[arg-type]
        return Transfer(account, to, cache.amount(record["amount"]), memo, key)  # type: ignore[arg-type]
    if kind == "open":
        return Open(account, memo, key)
    return Close(account, memo, key)


class RecordError(InvalidValue):
    """A record of the batch is malformed; `line` says which."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}; nothing was imported")
        self.line = line


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def jsonl_records(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, object]]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise RecordError(number, f"not valid JSON ({exc})") from None
        if not isinstance(record, dict):
            raise RecordError(number, "not a JSON object")
        yield number, record


def csv_records(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, object]]]:
    import csv

    def text() -> Iterator[str]:
        for number, line in enumerate(lines, 1):
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                raise RecordError(number, "not valid UTF-8") from None

    reader = csv.reader(text())
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip().lstrip("\ufeff") for name in header]
    unknown = [name for name in header if name not in FIELDS]
    if unknown or "type" not in header:
        raise RecordError(1, f"the CSV header must name the fields {', '.join(FIELDS)} (got {', '.join(header)})")
    for row in reader:
        number = reader.line_num
        if not row or row == [""]:
            continue
        if len(row) != len(header):
            raise RecordError(number, f"expected {len(header)} fields, found {len(row)}")
        yield number, {name: value for name, value in zip(header, row) if value != ""}


def commands(records: Iterator[tuple[int, dict[str, object]]]) -> Iterator[tuple[int, Command]]:
    """(line number, command) for each record; RecordError (exit 2) on a bad one."""
    cache = _Cache()
    for number, record in records:
        try:
            yield number, to_command(record, cache)
        except InvalidValue as exc:
            if isinstance(exc, RecordError):
                raise
            raise RecordError(number, str(exc)) from None
