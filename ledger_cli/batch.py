"""Parsing `ledger import` input: JSON Lines or CSV records into commands.

A record has `type` (open, deposit, withdraw, transfer, close), `account`, `to`,
`amount`, `memo` and `key`. Every value goes through the same parsers as the command
line, so an import accepts exactly what the commands accept. Errors name the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

from ledger_cli.accel import native
from ledger_cli.dates import is_day
from ledger_cli.domain import Close, Command, Deposit, Open, Transfer, Withdraw
from ledger_cli.errors import InvalidValue
from ledger_cli.money import parse_amount
from ledger_cli.values import parse_account, parse_key, parse_memo

FIELDS = ("type", "account", "to", "amount", "memo", "key", "date")
_FIELD_SET = frozenset(FIELDS)
# For each type: the fields it needs, and the ones it must not have.
_NEEDS = {
    "open": ("account",),
    "close": ("account",),
    "deposit": ("account", "amount"),
    "withdraw": ("account", "amount"),
    "transfer": ("account", "to", "amount"),
}
_SHAPES = {kind: (needs, tuple(sorted({"to", "amount"} - set(needs)))) for kind, needs in _NEEDS.items()}


class Record:
    """A JSON Lines record whose fields are all strings or null (see _record_type)."""

    type: str | None
    account: str | None
    to: str | None
    amount: str | None
    memo: str | None
    key: str | None
    date: str | None


_RECORD: list[type[Record]] = []


def _record_type() -> type[Record]:
    """The msgspec Struct for records, made on first use (msgspec is imported only for batches)."""
    if not _RECORD:
        import msgspec

        fields = [(name, str | None, None) for name in FIELDS]
        _RECORD.append(msgspec.defstruct("Record", fields, forbid_unknown_fields=True))  # type: ignore[arg-type]
    return _RECORD[0]


def as_record(fields: dict[str, object]) -> Record:
    """A record built by a reader of another format (a bank statement): the same fast path as
    a JSON Lines record's."""
    return _record_type()(**fields)


class _Cache:
    """Account names and amounts repeat a lot in a batch: parse each distinct text once (the
    first LIMIT distinct ones: memory stays bounded when they do not repeat)."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}
        self.amounts: dict[str, Decimal] = {}
        self.dates: set[str] = set()
        module = native()
        if module is not None:  # it checks amounts in C, with a cache of its own
            self.amount = self._native_amount  # type: ignore[method-assign]
            self._valid_amount = module.amount

    def _native_amount(self, text: str) -> Decimal:
        value = self._valid_amount(text)
        return parse_amount(text) if value is None else value  # parse_amount names the problem

    def date(self, text: str | None) -> str | None:
        """A record's date (None: today), checked to be a real calendar date."""
        if text is None:
            return None
        if text not in self.dates:
            if not is_day(text):
                raise InvalidValue(f"invalid date {text!r}: give a real calendar date as YYYY-MM-DD")
            if len(self.dates) < self.LIMIT:
                self.dates.add(text)
        return text

    def account(self, text: str) -> str:
        name = self.accounts.get(text)
        if name is None:
            name = parse_account(text)
            if len(self.accounts) < self.LIMIT:  # a batch of 200k new accounts must not hold them twice
                self.accounts[text] = name
        return name

    def amount(self, text: str) -> Decimal:
        value = self.amounts.get(text)
        if value is None:
            value = parse_amount(text)
            if len(self.amounts) < self.LIMIT:
                self.amounts[text] = value
        return value


_MOVES: dict[str, type[Deposit] | type[Withdraw]] = {"deposit": Deposit, "withdraw": Withdraw}


def move_command(record: Record, cache: _Cache) -> Command | None:
    """The command for a plain deposit, withdrawal or transfer record (to_command's common
    case, without its generic checks), or None for any other record: to_command then decides.
    Values are parsed in to_command's order, so a record with two bad values names the same."""
    kind, account, amount, to = record.type, record.account, record.amount, record.to
    if kind == "transfer":
        if not account or not amount or not to:
            return None
        name = cache.account(account)
        memo = None if record.memo is None else parse_memo(record.memo)
        key = None if record.key is None else parse_key(record.key or None)
        date = cache.date(record.date or None)
        return Transfer(name, cache.account(to), cache.amount(amount), memo, key, date)
    move = _MOVES.get(kind)  # type: ignore[arg-type]
    if move is None or not account or not amount or to:
        return None
    name = cache.account(account)
    memo = None if record.memo is None else parse_memo(record.memo)
    key = None if record.key is None else parse_key(record.key or None)
    date = cache.date(record.date or None)
    return move(name, cache.amount(amount), memo, key, date)


def to_command(record: dict[str, object], cache: _Cache) -> Command:
    """One record as a command, or InvalidValue naming what is wrong."""
    kind = record.get("type")
    shape = _SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        raise InvalidValue(f"type must be one of {', '.join(_NEEDS)}, not {kind!r}")
    if not record.keys() <= _FIELD_SET:
        raise InvalidValue(f"unknown field {sorted(set(record) - _FIELD_SET)[0]!r}")
    needs, refuses = shape
    for name, value in record.items():
        if value is not None and type(value) is not str:
            raise InvalidValue(f'field {name!r} must be a string (amounts too: "12.50", never a number)')
    for name in needs:
        if not record.get(name):
            raise InvalidValue(f"a {kind} record needs {name!r}")
    for name in refuses:
        if record.get(name):
            raise InvalidValue(f"a {kind} record takes no {name!r}")
    account = cache.account(record["account"])  # type: ignore[arg-type]
    memo = record.get("memo")
    key = record.get("key")
    if memo is not None:
        memo = parse_memo(memo)  # type: ignore[arg-type]
    if key is not None:
        key = parse_key(key or None)  # type: ignore[arg-type]
    date = cache.date(record.get("date") or None)  # type: ignore[arg-type]
    if kind == "deposit":
        return Deposit(account, cache.amount(record["amount"]), memo, key, date)  # type: ignore[arg-type]
    if kind == "withdraw":
        return Withdraw(account, cache.amount(record["amount"]), memo, key, date)  # type: ignore[arg-type]
    if kind == "transfer":
        to = cache.account(record["to"])  # type: ignore[arg-type]
        return Transfer(account, to, cache.amount(record["amount"]), memo, key, date)  # type: ignore[arg-type]
    if kind == "open":
        return Open(account, memo, key, date)
    return Close(account, memo, key, date)


class RecordError(InvalidValue):
    """A record of the batch is malformed; `line` says which."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}; nothing was imported")
        self.line = line


def jsonl_records(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, object] | Record]]:
    """Each record as a Record (strings or null in its fields, checked by msgspec in C),
    or, when it is anything else, as the dict to_command names the problem of."""
    import msgspec  # a batch repays its import; it refuses NaN and Infinity like the log reader

    decode_record = msgspec.json.Decoder(_record_type()).decode
    decode = msgspec.json.Decoder().decode
    fields = msgspec.structs.astuple
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(_BOM):  # as a CSV import accepts it
            line = line[len(_BOM) :]
        try:
            record = decode_record(line)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
            pass
        else:
            # A decoder keeps the last of two values of a field silently. Every member's name
            # ends in `":` unless whitespace comes before its colon; a value can only add more. So
            # exactly as many as there are fields with a value means no field is repeated (nor
            # null). Anything else is checked exactly.
            values = fields(record)  # type: ignore[arg-type]
            if line.count(b'":') != len(values) - values.count(None) or _QUOTE_SPACE(line):
                _refuse_repeats(number, line)
            yield number, record
            continue
        if not line.strip():
            continue
        _refuse_repeats(number, line)
        try:
            record = decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise RecordError(number, f"not valid JSON ({exc})") from None
        if not isinstance(record, dict):
            raise RecordError(number, "not a JSON object")
        yield number, record


_BOM = b"\xef\xbb\xbf"
_QUOTE_SPACE = re.compile(rb'"[ \t\r\n]+:').search  # a member's name, spaced from its colon


def _refuse_repeats(number: int, line: bytes) -> None:
    """RecordError if a JSON object of the line names a field twice (spelled alike or with
    escapes); anything else wrong with the line is left to the decoder's own message."""
    import json

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        names = [name for name, _ in items]
        for name in names:
            if names.count(name) > 1:
                raise RecordError(number, f"field {name!r} is given twice")
        return dict(items)

    def constant(text: str) -> object:
        raise ValueError(text)

    try:
        json.loads(line, object_pairs_hook=pairs, parse_constant=constant)
    except ValueError:
        pass


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
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise RecordError(1, f"the CSV header names {repeated[0]!r} twice")
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


def commands(records: Iterator[tuple[int, dict[str, object] | Record]]) -> Iterator[tuple[int, Command]]:
    """(line number, command) for each record; RecordError (exit 2) on a bad one."""
    cache = _Cache()
    for number, record in records:
        try:
            if not isinstance(record, dict):
                command = move_command(record, cache)
                if command is not None:
                    yield number, command
                    continue
                record = {name: value for name in FIELDS if (value := getattr(record, name)) is not None}
            yield number, to_command(record, cache)
        except InvalidValue as exc:
            if isinstance(exc, RecordError):
                raise
            raise RecordError(number, str(exc)) from None
