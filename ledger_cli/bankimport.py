"""`ledger import STATEMENT --rules RULES`: a bank's CSV statement read through its rules
(csvrules, statement) and appended as one batch, each row once, by its key; `--dry-run`
prints the records instead."""

from __future__ import annotations

import sys

from ledger_cli.actions import _confirm, _ledger
from ledger_cli.errors import InvalidValue
from ledger_cli.streams import stdin_closed


def import_statement(file: str | None, source: str | None, rules_path: str, *, quiet: bool, dry_run: bool) -> int:
    """A bank statement through its rules (csvrules, statement): each row once, by its key."""
    import json

    from ledger_cli import csvrules, statement

    rules = csvrules.parse(rules_path)
    name = source or "-"
    if name == "-" and stdin_closed():
        raise InvalidValue("cannot read the statement from standard input: it is closed")
    try:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as stream:
                data = stream.read()
    except OSError as exc:
        raise InvalidValue(f"cannot read {name}: {exc.strerror}") from None
    found, zero = statement.entries(data, name, rules)
    if dry_run:
        import msgspec

        for _checked in statement.commands(found):  # (checked as a write would check them)
            pass
        shown = (
            {k: v for k, v in msgspec.structs.asdict(record).items() if v is not None}  # type: ignore[arg-type]
            for _, record in statement.records(found)
        )
        sys.stdout.write("".join(json.dumps(fields, ensure_ascii=False) + "\n" for fields in shown))
        return 0
    commands = statement.commands(found)
    ledger = _ledger(file)
    count, skipped, first = ledger.import_commands(commands, skip_recorded=True)
    if not quiet:
        where = f"seq {first}–{first + count - 1}" if count else "nothing new"
        notes = []
        if skipped:
            notes.append(f"{skipped} rows already recorded")
        if ledger.remapped:
            notes.append(f"{ledger.remapped} of them mapped otherwise by the rules now (left as recorded)")
        if zero:
            notes.append(f"{zero} rows of amount 0 skipped")
        note = f" ({'; '.join(notes)})" if notes else ""
        _confirm(lambda: sys.stdout.write(f"imported {count} events from {name}: {where}{note}\n"), where)
    return 0
