"""The books as an hledger journal, which Ledger 3 reads too: one transaction per event in
date order, each posting to one of the books' accounts asserting its running balance (`=`),
so that hledger itself proves the export reproduces the books.

    2026-12-01 * (7) transfer | rent buffer, with semi  ; seq:7, type:transferred, id:…, ts:…
        ; hash:…, prev:…
        ; key:2026-11-rent
        ; memo:rent buffer%3B with semi
        acct1        -12.50 = 37.50
        savings       12.50 = 12.50

A description ends at a `;` and a tag value at a comma: the description shows the memo with
each `;` made `,`, and the exact key and memo are tag values percent-encoded (`%`, `,`, `;`,
and a leading or trailing space), so `key:` and `memo:` give them back exactly.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import IO

from ledger_cli.exports import Books, Entry
from ledger_cli.money import format_amount

KINDS = {
    "account_opened": "open", "account_closed": "close", "deposited": "deposit", "withdrawn": "withdrawal",
    "transferred": "transfer", "reversed": "reversal", "period_closed": "period closed",
    "period_reopened": "period reopened",
}  # fmt: skip
_TAG_ESCAPES = str.maketrans({"%": "%25", ",": "%2C", ";": "%3B"})


def tag_value(text: str) -> str:
    """A tag value hledger gives back exactly: it ends at a comma and is stripped."""
    encoded = text.translate(_TAG_ESCAPES)
    if encoded[:1] == " ":
        encoded = "%20" + encoded[1:]
    if encoded[-1:] == " ":
        encoded = encoded[:-1] + "%20"
    return encoded


class JournalWriter:
    """Writes the header, the account directives, then each entry handed to it, in order."""

    def __init__(self, out: IO[str], books: Books, counters: tuple[str, str], bounds: str) -> None:
        self.out = out
        self.balances: dict[str, Decimal] = defaultdict(Decimal)
        self.own = books.accounts
        out.write(
            f"; ledger export: {books.events} events, head {books.head or 'none'}{bounds}\n"
            "; check it: hledger -f FILE check -s ordereddates (each = is a balance of the books)\n"
            "decimal-mark .\n"
            f"commodity 1.{'0' * books.scale}\n\n"
        )
        for name in sorted(books.accounts | set(counters)):
            out.write(f"account {name}\n")
        out.write("\n")

    def resume(self, balances: dict[str, Decimal], opened: set[str], touched: set[str], day: str) -> None:
        """Go on from a C writer's running balances (fastexport)."""
        self.balances.update(balances)

    def __call__(self, entry: Entry) -> None:
        rest = f", reverses:{entry.target}" if entry.target is not None else ""
        memo = entry.memo
        kind = KINDS.get(entry.type, entry.type)
        shown = kind if memo is None else f"{kind} | {memo.replace(';', ',')}".rstrip()
        text = (
            f"{entry.date} * ({entry.seq}) {shown}  ; seq:{entry.seq}, type:{entry.type}, id:{entry.id}, "
            f"ts:{entry.ts}\n    ; hash:{entry.hash}, prev:{entry.prev}{rest}\n"
        )
        if entry.key is not None:
            text += f"    ; key:{tag_value(entry.key)}\n"
        if memo is not None:
            text += f"    ; memo:{tag_value(memo)}\n"
        balances, own, recorded = self.balances, self.own, entry.amount
        for account, amount in entry.postings:
            shown_amount = "0" if recorded is None else recorded if amount > 0 else "-" + recorded
            if account in own:
                balance = balances[account] = balances[account] + amount
                text += f"    {account}  {shown_amount} = {format_amount(balance)}\n"
            else:
                text += f"    {account}  {shown_amount}\n"
        self.out.write(text + "\n")
