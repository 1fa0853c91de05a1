"""Printing `ledger restatement`'s report (audit builds it): its tables and machine formats."""

from __future__ import annotations

import sys
from typing import Any

from ledger_cli.render import _SHORT_TYPES, _csv, _dumps, _print_table
from ledger_cli.streams import say


def restatement(report: dict[str, Any], fmt: str) -> None:
    """`ledger restatement`: json whole; jsonl one event a line; csv one account a row (before,
    after, change); tsv both, each row tagged by its first field (`account` or `event`); a table
    of the accounts and one of the events."""
    out = sys.stdout
    accounts = report["accounts"]
    if fmt == "json":
        out.write(_dumps(report) + "\n")
        return
    if fmt == "jsonl":
        out.writelines(_dumps(event) + "\n" for event in report["events"])
        return
    columns = ("account", "before", "after", "change")
    if fmt == "csv":
        out.write(_csv(columns, ([row[c] for c in columns] for row in accounts)))
    elif fmt == "tsv":
        out.writelines("\t".join(("account", *(row[c] for c in columns))) + "\n" for row in accounts)
        names = ("seq", "ts", "date", "days_late", "type", "account", "to", "amount", "memo")
        out.writelines(
            "\t".join(("event", *("" if e.get(n) is None else str(e[n]) for n in names))) + "\n"
            for e in report["events"]
        )
    else:
        rows = [[row[c] for c in columns] for row in accounts] + [["Total", "", "", report["total_change"]]]
        _print_table([("Account", "left"), ("Before", "right"), ("After", "right"), ("Change", "right")], rows)
        if report["events"]:
            _print_table(
                [("Seq", "right"), ("Date", "left"), ("Recorded (UTC)", "left"), ("Days late", "right"),
                 ("Event", "left"), ("Account", "left"), ("Amount", "right"), ("Memo", "left")],
                ([str(e["seq"]), e["date"], e["ts"][:16].replace("T", " "), str(e["days_late"]),
                  _SHORT_TYPES.get(e["type"], e["type"]), " → ".join(a for a in (e.get("account"), e.get("to")) if a),
                  e.get("amount", ""), e.get("memo", "")] for e in report["events"]),
                compact=True,
            )  # fmt: skip
    start, end = report["from"], report["to"]
    say(
        f"ledger: as of {report['as_of']} (by date), known at seq {start['seq']} ({start['ts']}) and at seq "
        f"{end['seq']} ({end['ts']}): {_entries(len(report['events']))} recorded between them: the total changes by "
        f"{report['total_change']}"
    )


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"
