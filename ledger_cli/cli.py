"""The Typer application: argument parsing and help only; every body calls actions.py.

Nothing else imports this module. Errors become exit codes in actions.guarded.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ledger_cli import __version__, actions, audit, clihelp, climore, clireads
from ledger_cli.cliopts import (
    AccountArg,
    AsOf,
    DateOpt,
    File,
    Format,
    JsonOut,
    Key,
    KnownAt,
    Memo,
    NoCache,
    Quiet,
    Until,
    _accounts,
)
from ledger_cli.config import enter_books_zone

app = typer.Typer(
    name="ledger",
    help="An event-sourced ledger: every command appends one event to an append-only, "
    "hash-chained JSON Lines log; reads fold the log.",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# "-5" must reach the amount parser ("invalid amount '-5'", exit 2) rather than be read as an
# unknown option; a real unknown option then shows up as an unexpected extra argument (exit 2).
_AMOUNTS = {"ignore_unknown_options": True}


def _run(ctx: typer.Context, after: Optional[str], action: object, *args: object, **kwargs: object) -> None:
    """Run an action on the log named by -f before the command or after it (not both)."""
    before = ctx.obj.get("file") if ctx.obj else None

    def call() -> int:
        file = actions.choose_file(before, after)
        if action is not actions.copy:  # (copy names its own two stores)
            enter_books_zone(file)
        return action(file, *args, **kwargs)  # type: ignore[operator, no-any-return]

    code = actions.guarded(call)
    if code:
        raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        print(f"ledger {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
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
    if ctx.invoked_subcommand is None:  # a bare `ledger` shows the help and succeeds, as git's help does
        print(ctx.get_help())
        raise typer.Exit(0)


@app.command("open", **clihelp.options("open"))
def open_(
    ctx: typer.Context,
    account: AccountArg,
    memo: Memo = None,
    key: Key = None,
    date: DateOpt = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Open ACCOUNT (again, if it was closed)."""
    _run(ctx, file, actions.open_account, account, memo, key, date, quiet=quiet, as_json=as_json)


@app.command(context_settings=_AMOUNTS, **clihelp.options("deposit"))
def deposit(
    ctx: typer.Context,
    account: AccountArg,
    amount: str,
    memo: Memo = None,
    key: Key = None,
    date: DateOpt = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Deposit AMOUNT into ACCOUNT (opening it if it never existed)."""
    _run(ctx, file, actions.deposit, account, amount, memo, key, date, quiet=quiet, as_json=as_json)


@app.command(context_settings=_AMOUNTS, **clihelp.options("withdraw"))
def withdraw(
    ctx: typer.Context,
    account: AccountArg,
    amount: str,
    memo: Memo = None,
    key: Key = None,
    date: DateOpt = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Withdraw AMOUNT from ACCOUNT; refused if the balance is short."""
    _run(ctx, file, actions.withdraw, account, amount, memo, key, date, quiet=quiet, as_json=as_json)


@app.command(context_settings=_AMOUNTS, **clihelp.options("transfer"))
def transfer(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FROM", autocompletion=_accounts)],
    to: Annotated[str, typer.Argument(metavar="TO", autocompletion=_accounts)],
    amount: str,
    memo: Memo = None,
    key: Key = None,
    date: DateOpt = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Move AMOUNT from FROM to TO in one event (TO is opened if it never existed)."""
    _run(ctx, file, actions.transfer, source, to, amount, memo, key, date, quiet=quiet, as_json=as_json)


@app.command(**clihelp.options("close"))
def close(
    ctx: typer.Context,
    account: AccountArg,
    memo: Memo = None,
    key: Key = None,
    date: DateOpt = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Close ACCOUNT; only an account at zero can be closed."""
    _run(ctx, file, actions.close_account, account, memo, key, date, quiet=quiet, as_json=as_json)


@app.command(context_settings=_AMOUNTS, **clihelp.options("reverse"))
def reverse(
    ctx: typer.Context,
    seq: Annotated[str, typer.Argument(metavar="SEQ", help="The seq of the deposit, withdrawal or transfer to undo.")],
    memo: Memo = None,
    key: Key = None,
    date: DateOpt = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Record a reversal that undoes the money movement of event SEQ."""
    _run(ctx, file, actions.reverse, seq, memo, key, date, quiet=quiet, as_json=as_json)


clireads.register(app, _run)  # balance, history, replay, accounts (here: the order of the help)


@app.command(**clihelp.options("verify"))
def verify(
    ctx: typer.Context,
    fmt: Format = None,
    as_json: JsonOut = False,
    file: File = None,
    against: Annotated[
        Optional[list[str]],
        typer.Option("--against", help="A statement kept from `replay --json` that must still hold (repeatable)."),
    ] = None,
) -> None:
    """Check the whole log: JSON, fields, seq, ts order, hash chain and every ledger rule (in both orders)."""
    _run(ctx, file, actions.verify, fmt, as_json, against or None)


@app.command("close-period", **clihelp.options("close-period"))
def close_period(
    ctx: typer.Context,
    date: Annotated[str, typer.Argument(metavar="DATE", help="The last day closed (YYYY-MM-DD).")],
    memo: Memo = None,
    key: Key = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Close the books through DATE: nothing dated on or before it is taken until reopen-period."""
    _run(ctx, file, actions.close_period, date, memo, key, quiet=quiet, as_json=as_json)


@app.command("reopen-period", **clihelp.options("reopen-period"))
def reopen_period(
    ctx: typer.Context,
    date: Annotated[str, typer.Argument(metavar="DATE", help="The first day reopened (YYYY-MM-DD).")],
    memo: Annotated[Optional[str], typer.Option("--memo", "-m", help="Why (required; it is recorded).")] = None,
    key: Key = None,
    quiet: Quiet = False,
    as_json: JsonOut = False,
    file: File = None,
) -> None:
    """Reopen the books from DATE on (they stay closed through the day before)."""
    _run(ctx, file, actions.reopen_period, date, memo, key, quiet=quiet, as_json=as_json)


@app.command(**clihelp.options("restatement"))
def restatement(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", help="The day whose books are compared (YYYY-MM-DD).")],
    since: Annotated[
        Optional[str], typer.Option("--from", help="Known at this point first (default: the close of that day).")
    ] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Known at this point after (default: now).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if entries recorded since changed them.")] = False,
    fmt: Format = None,
    as_json: JsonOut = False,
    no_cache: NoCache = False,
    file: File = None,
) -> None:
    """What entries recorded later changed about the books as of a day, and how late each was."""
    _run(ctx, file, audit.restatement, as_of, since, to, fmt, as_json, no_cache, check)


@app.command("copy", **clihelp.options("copy"))
def copy_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC", help="The log to copy: a file or a postgresql:// URI.")],
    destination: Annotated[
        str, typer.Argument(metavar="DST", help="Where to: empty, or holding a prefix of SRC (file or URI).")
    ],
    quiet: Quiet = False,
    as_json: JsonOut = False,
) -> None:
    """Copy a log between stores byte for byte, appending only what DST lacks (exit 3 if they diverged)."""
    _run(ctx, None, actions.copy, source, destination, quiet=quiet, as_json=as_json)


@app.command(**clihelp.options("export"))
def export(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", help="hledger (a journal Ledger 3 reads too), beancount or csv.")
    ] = "hledger",
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="Write FILE (atomically) instead of stdout.")
    ] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    until: Until = None,
    income: Annotated[
        str, typer.Option("--income-account", help="The other side of deposits (not one of the books' accounts).")
    ] = "income:unknown",
    expense: Annotated[
        str, typer.Option("--expense-account", help="The other side of withdrawals (not one of the books' accounts).")
    ] = "expenses:unknown",
    currency: Annotated[str, typer.Option("--currency", help="The commodity Beancount needs (default CC).")] = "CC",
    account_map: Annotated[
        Optional[str],
        typer.Option("--account-map", help="A TSV file of ledger-account<TAB>Beancount:Name overrides."),
    ] = None,
    no_cache: NoCache = False,
    file: File = None,
) -> None:
    """Write the books for other tools, in date order: an hledger journal whose every posting
    asserts our balance (hledger -f FILE check -s ordereddates proves them), a Beancount file
    (bean-check FILE) or CSV postings."""
    _run(
        ctx, file, actions.export, fmt, output, as_of, known_at, until, income, expense, currency, account_map, no_cache
    )


@app.command("import", **clihelp.options("import"))
def import_(
    ctx: typer.Context,
    source: Annotated[
        Optional[str], typer.Argument(metavar="[FILE|-]", help="JSON Lines or CSV records; - or nothing reads stdin.")
    ] = None,
    fmt: Annotated[
        Optional[str], typer.Option("--format", help="jsonl or csv (default: csv for *.csv, else jsonl).")
    ] = None,
    rules: Annotated[
        Optional[str], typer.Option("--rules", help="Read FILE as a bank's CSV statement through these rules.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --rules: print the records, write nothing.")] = False,
    quiet: Quiet = False,
    file: File = None,
) -> None:
    """Append a batch of commands all-or-nothing: open, deposit, withdraw, transfer, close.

    \b
    One record a line (JSON Lines) or a row (CSV, with a header row):
      type     open, deposit, withdraw, transfer or close
      account  the account (a transfer's source); every type needs it
      to       a transfer's destination
      amount   a decimal string such as "12.50" (deposit, withdraw, transfer)
      memo     free text (optional)
      key      an idempotency key (optional; a record already recorded is skipped)
    \b
    {"type":"deposit","account":"assets:bank","amount":"50","key":"s-1"}
    A bad record names its line and nothing is imported (exit 2 for a bad value, 1 for a rule).
    \b
    A bank statement: ledger import statement.csv --rules bank.rules  (hledger's CSV rules, a subset;
    each row recorded once, by its key: importing an overlapping statement again adds only new rows)
    """
    _run(ctx, file, actions.import_batch, source, fmt, quiet=quiet, rules=rules, dry_run=dry_run)


climore.register(app, _run)  # info, completion
