"""The Typer application: argument parsing and help only; every body calls actions.py.

Nothing else imports this module. Errors become exit codes in actions.guarded.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ledger_cli import __version__, actions

app = typer.Typer(
    name="ledger",
    help="An event-sourced ledger: every command appends one event to an append-only, "
    "hash-chained JSON Lines log; reads fold the log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

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
NoCache = Annotated[bool, typer.Option("--no-cache", help="Ignore checkpoints; fold the log from its first line.")]


# "-5" must reach the amount parser ("invalid amount '-5'", exit 2) rather than be read as an
# unknown option; a real unknown option then shows up as an unexpected extra argument (exit 2).
_AMOUNTS = {"ignore_unknown_options": True}


def _file(ctx: typer.Context) -> Optional[str]:
    return ctx.obj.get("file") if ctx.obj else None


def _run(action: object, *args: object, **kwargs: object) -> None:
    code = actions.guarded(action, *args, **kwargs)  # type: ignore[arg-type]
    if code:
        raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        print(f"ledger {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    file: Annotated[
        Optional[str],
        typer.Option("--file", "-f", help="The log file (default: $LEDGER_CLI_FILE, else the user data folder)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """An event-sourced ledger with a hash-chained, append-only log."""
    ctx.obj = {"file": file}


@app.command("open")
def open_(
    ctx: typer.Context, account: str, memo: Memo = None, key: Key = None, quiet: Quiet = False, as_json: JsonOut = False
) -> None:
    """Open ACCOUNT (again, if it was closed)."""
    _run(actions.open_account, _file(ctx), account, memo, key, quiet=quiet, as_json=as_json)


@app.command(context_settings=_AMOUNTS)
def deposit(
    ctx: typer.Context,
    account: str,
    amount: str,
    memo: Memo = None,
    key: Key = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
) -> None:
    """Deposit AMOUNT into ACCOUNT (opening it if it never existed)."""
    _run(actions.deposit, _file(ctx), account, amount, memo, key, quiet=quiet, as_json=as_json)


@app.command(context_settings=_AMOUNTS)
def withdraw(
    ctx: typer.Context,
    account: str,
    amount: str,
    memo: Memo = None,
    key: Key = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
) -> None:
    """Withdraw AMOUNT from ACCOUNT; refused if the balance is short."""
    _run(actions.withdraw, _file(ctx), account, amount, memo, key, quiet=quiet, as_json=as_json)


@app.command(context_settings=_AMOUNTS)
def transfer(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FROM")],
    to: Annotated[str, typer.Argument(metavar="TO")],
    amount: str,
    memo: Memo = None,
    key: Key = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
) -> None:
    """Move AMOUNT from FROM to TO in one event (TO is opened if it never existed)."""
    _run(actions.transfer, _file(ctx), source, to, amount, memo, key, quiet=quiet, as_json=as_json)


@app.command()
def close(
    ctx: typer.Context, account: str, memo: Memo = None, key: Key = None, quiet: Quiet = False, as_json: JsonOut = False
) -> None:
    """Close ACCOUNT; only an account at zero can be closed."""
    _run(actions.close_account, _file(ctx), account, memo, key, quiet=quiet, as_json=as_json)


@app.command()
def reverse(
    ctx: typer.Context,
    seq: Annotated[str, typer.Argument(metavar="SEQ", help="The seq of the deposit, withdrawal or transfer to undo.")],
    memo: Memo = None,
    key: Key = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
) -> None:
    """Record a reversal that undoes the money movement of event SEQ."""
    _run(actions.reverse, _file(ctx), seq, memo, key, quiet=quiet, as_json=as_json)


@app.command()
def balance(
    ctx: typer.Context,
    accounts: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="[ACCOUNT]...", help="Accounts to show (each with its sub-accounts)."),
    ] = None,
    until: Until = None,
    fmt: Format = None,
    as_json: JsonOut = False,
    no_cache: NoCache = False,
) -> None:
    """Balances of every account (or those named), at the end or at --until."""
    _run(actions.balance, _file(ctx), accounts or [], until, fmt, as_json, no_cache)


@app.command()
def history(
    ctx: typer.Context,
    account: Annotated[
        Optional[str], typer.Argument(help="Only events of this account (and sub-accounts), with its running balance.")
    ] = None,
    since: Since = None,
    until: Until = None,
    last: Annotated[Optional[int], typer.Option("--last", min=0, help="Only the last N of the events shown.")] = None,
    fmt: Format = None,
    as_json: JsonOut = False,
    no_cache: NoCache = False,
) -> None:
    """The events in log order."""
    _run(actions.history, _file(ctx), account, since, until, last, fmt, as_json, no_cache)


@app.command()
def replay(
    ctx: typer.Context, until: Until = None, fmt: Format = None, as_json: JsonOut = False, no_cache: NoCache = False
) -> None:
    """The whole state rebuilt up to --until, with the seq and hash of the last event applied."""
    _run(actions.replay, _file(ctx), until, fmt, as_json, no_cache)


@app.command("accounts")
def accounts_(ctx: typer.Context, fmt: Format = None, as_json: JsonOut = False, no_cache: NoCache = False) -> None:
    """The accounts, open and closed."""
    _run(actions.accounts, _file(ctx), fmt, as_json, no_cache)


@app.command()
def verify(ctx: typer.Context, fmt: Format = None, as_json: JsonOut = False) -> None:
    """Check the whole log: JSON, fields, seq, ts order, hash chain and every ledger rule."""
    _run(actions.verify, _file(ctx), fmt, as_json)


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[
        Optional[str], typer.Argument(metavar="[FILE|-]", help="JSON Lines or CSV records; - or nothing reads stdin.")
    ] = None,
    fmt: Annotated[
        Optional[str], typer.Option("--format", help="jsonl or csv (default: csv for *.csv, else jsonl).")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Append a batch of commands all-or-nothing: open, deposit, withdraw, transfer, close."""
    _run(actions.import_batch, _file(ctx), source, fmt, quiet=quiet)
