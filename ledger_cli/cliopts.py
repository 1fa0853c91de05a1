"""The Typer options the commands share (cli.py's), each with its help text."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Memo = Annotated[Optional[str], typer.Option("--memo", "-m", help="Free text recorded with the event.")]
Key = Annotated[
    Optional[str],
    typer.Option(
        "--idempotency-key", "-k", help="Record at most once: a retry with the same key and payload records nothing."
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json).")]
Format = Annotated[
    Optional[str],
    typer.Option("--format", help="table, tsv, csv, json or jsonl (default: table on a terminal, tsv in a pipe)."),
]
Until = Annotated[
    Optional[str],
    typer.Option(
        "--until",
        help="Up to and including this point: an event seq, a date (its first instant, local time) or a date-time.",
    ),
]
Since = Annotated[Optional[str], typer.Option("--since", help="From this point on (same forms as --until).")]
DateOpt = Annotated[
    Optional[str],
    typer.Option("--date", help="The day this belongs to in the books (YYYY-MM-DD; default today, never later)."),
]
AsOf = Annotated[
    Optional[str],
    typer.Option("--as-of", help="The books by date: only events dated on or before this day (YYYY-MM-DD)."),
]
KnownAt = Annotated[
    Optional[str],
    typer.Option("--known-at", help="As the log stood at this point (same forms as --until, its alias)."),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Ignore checkpoints; fold the log from its first line.")]
File = Annotated[Optional[str], typer.Option("--file", "-f", help="The log file (may also come before the command).")]

By = Annotated[Optional[str], typer.Option("--by", help="A column per day, week, month, quarter or year (by date).")]
Begin = Annotated[Optional[str], typer.Option("--begin", help="With --by: from this date on (inclusive).")]
End = Annotated[Optional[str], typer.Option("--end", help="With --by: up to this date (exclusive, as hledger's -e).")]
Change = Annotated[bool, typer.Option("--change", help="With --by: the change within each period, not the balance.")]


def _accounts(ctx: typer.Context, incomplete: str) -> list[str]:
    """ACCOUNT completions from the books named by -f (after the command, or before it)."""
    from ledger_cli.completion import accounts

    file = ctx.params.get("file") or (ctx.find_root().params.get("file") if ctx.parent else None)
    return accounts(file, incomplete)


AccountArg = Annotated[str, typer.Argument(metavar="ACCOUNT", autocompletion=_accounts)]
