"""The books as a Beancount 3 file that `bean-check` accepts and whose balances are ours.

Beancount allows one `open` and one `close` per account: each account opens on the day of its
first entry and closes only if it is closed at the end of the export; the closes and reopenings
in between are `note`s. After each day with entries, every account they touched gets an exact
`balance … ~ 0` dated the next day (Beancount checks a balance at the start of its day, and
with a tolerance unless told `~ 0`). A reversal and its target share the link `^ledger-SEQ`.
Beancount computes in a 28-digit decimal context: a value needing more digits is exit 2, never
a file Beancount would silently round.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import IO

from ledger_cli.beannames import beancount_name, counter_name, valid
from ledger_cli.errors import InvalidValue
from ledger_cli.exports import Books, Entry
from ledger_cli.money import format_amount

_CURRENCY = re.compile(r"[A-Z]([A-Z0-9'._-]*[A-Z0-9])?")
DIGITS = 28  # Beancount's decimal context (prec 28)
_LARGE = Decimal(10) ** 10  # a smaller balance (at most 18 decimals) fits in 28 digits
KINDS = {
    "deposited": "deposit", "withdrawn": "withdrawal", "transferred": "transfer", "reversed": "reversal",
}  # fmt: skip


def names(books: Books, counters: tuple[str, str], currency: str, account_map: str | None) -> dict[str, str]:
    """Each of the books' accounts (and the two counter-accounts) → its Beancount name: the
    mapping of beannames, or the account map's TSV line `ledger-account<TAB>Beancount:Name`;
    exit 2 for a bad currency, a bad or unknown map line, an invalid name or two accounts that
    would meet."""
    if not _CURRENCY.fullmatch(currency) or len(currency) > 24:
        raise InvalidValue(f"invalid --currency {currency!r}: Beancount wants a code such as EUR or CC")
    chosen = {name: beancount_name(name) for name in books.accounts}
    chosen[counters[0]] = counter_name(counters[0], "Income")
    chosen[counters[1]] = counter_name(counters[1], "Expenses")
    if account_map is not None:
        chosen.update(_read_map(account_map, chosen))
    seen: dict[str, str] = {}
    for ours, theirs in sorted(chosen.items()):
        if not valid(theirs):
            raise InvalidValue(f"{theirs!r} (for {ours}) is not a valid Beancount account name")
        if theirs in seen and seen[theirs] != ours:
            raise InvalidValue(f"{seen[theirs]} and {ours} would both be {theirs} in Beancount: map one elsewhere")
        seen[theirs] = ours
    return chosen


def _read_map(path: str, known: dict[str, str]) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as lines:
            text = lines.read()
    except OSError as exc:
        raise InvalidValue(f"cannot read --account-map {path}: {exc.strerror}") from None
    mapped = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].strip():
            raise InvalidValue(f"{path} line {number}: want ledger-account<TAB>Beancount:Name")
        ours, theirs = parts[0].strip(), parts[1].strip()
        if ours not in known:
            raise InvalidValue(f"{path} line {number}: {ours!r} is not one of the books' accounts")
        mapped[ours] = theirs
    return mapped


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


class BeancountWriter:
    def __init__(self, out: IO[str], books: Books, names: dict[str, str], currency: str, bounds: str) -> None:
        self.out, self.books, self.names, self.currency = out, books, names, currency
        self.balances: dict[str, Decimal] = defaultdict(Decimal)
        self.opened: set[str] = set()
        self.touched: set[str] = set()
        self.day = ""
        out.write(
            f"; ledger export: {books.events} events, head {books.head or 'none'}{bounds}\n"
            "; check it: bean-check FILE (each balance is one of the books')\n"
            f'option "operating_currency" "{currency}"\n\n'
        )

    def resume(self, balances: dict[str, Decimal], opened: set[str], touched: set[str], day: str) -> None:
        """Go on from a C writer's state (fastexport)."""
        self.balances.update(balances)
        self.opened, self.touched, self.day = set(opened), set(touched), day

    def _fits(self, value: Decimal, what: str) -> str:
        text = format_amount(value)
        if len(text) > DIGITS and len(value.as_tuple().digits) > DIGITS:
            raise InvalidValue(
                f"{what} {text} needs more than {DIGITS} significant digits, which Beancount "
                "would round: nothing was exported"
            )
        return text

    def _meta(self, entry: Entry, indent: str = "  ") -> list[str]:
        meta = [f"{indent}ledger-seq: {entry.seq}", f"{indent}ledger-id: {quoted(entry.id)}",
                f"{indent}ledger-ts: {quoted(entry.ts)}", f"{indent}ledger-hash: {quoted(entry.hash or '')}",
                f"{indent}ledger-prev: {quoted(entry.prev)}"]  # fmt: skip
        if entry.key is not None:
            meta.append(f"{indent}ledger-key: {quoted(entry.key)}")
        if entry.target is not None:
            meta.append(f"{indent}ledger-reverses: {entry.target}")
        return meta

    def _open(self, account: str, day: str, entry: Entry | None, lines: list[str]) -> None:
        name = self.names[account]
        lines.append(f"{day} open {name} {self.currency}")
        lines.append(f"  name: {quoted(account)}")
        if entry is not None and entry.type == "account_opened":
            lines.extend(self._meta(entry))
            if entry.memo is not None:
                lines.append(f"  ledger-memo: {quoted(entry.memo)}")
        self.opened.add(account)

    def _balances(self) -> list[str]:
        """The balances at the end of the day just done, dated the next day."""
        if not self.touched:
            return []
        after = _day_after(self.day)
        lines = [f"{after} balance {self.names[a]} {format_amount(self.balances[a])} ~ 0 {self.currency}"
                 for a in sorted(self.touched)]  # fmt: skip
        self.touched = set()
        return lines

    def __call__(self, entry: Entry) -> None:
        lines = self._balances() if entry.date != self.day else []
        self.day = entry.date
        kind = entry.type
        if kind in ("account_opened", "account_closed"):
            account = entry.postings[0][0]
            if account not in self.opened and kind == "account_opened":
                self._open(account, entry.date, entry, lines)
            elif kind == "account_closed" and self.books.status.get(account, ("", 0, ""))[1] == entry.seq:
                lines.append(f"{entry.date} close {self.names[account]}")
                lines.extend(self._meta(entry))
            else:
                word = "reopened" if kind == "account_opened" else "closed"
                lines.append(f"{entry.date} note {self.names[account]} {quoted(f'{word} (seq {entry.seq})')}")
                lines.extend(self._meta(entry))
        elif kind in ("period_closed", "period_reopened"):
            lines.append(f'{entry.date} custom "ledger-period" {quoted(kind)}')
            lines.extend(self._meta(entry))
            if entry.memo is not None:
                lines.append(f"  ledger-memo: {quoted(entry.memo)}")
        else:
            for account, _ in entry.postings:
                if account not in self.opened:
                    self._open(account, entry.date, None, lines)
            links = ""
            if entry.target is not None:
                links = f" ^ledger-{entry.target}"
            elif entry.seq in self.books.targets:
                links = f" ^ledger-{entry.seq}"
            lines.append(f"{entry.date} * {quoted(KINDS.get(kind, kind))} {quoted(entry.memo or '')}{links}")
            lines.extend(self._meta(entry))
            recorded = entry.amount or "0"
            if len(recorded) > DIGITS:
                self._fits(Decimal(recorded), "the amount")
            own, balances = self.books.accounts, self.balances
            for account, amount in entry.postings:
                balance = balances[account] = balances[account] + amount  # (counter-accounts' too)
                if not -_LARGE < balance < _LARGE:
                    self._fits(balance, f"the balance of {account}")
                if account in own:
                    self.touched.add(account)
                shown = recorded if amount > 0 else "-" + recorded
                lines.append(f"  {self.names[account]}  {shown} {self.currency}")
        lines.append("")
        self.out.write("\n".join(lines) + "\n")

    def finish(self) -> None:
        lines = self._balances()
        if lines:
            self.out.write("\n".join(lines) + "\n")
