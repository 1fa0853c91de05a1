"""The Typer commands that report the books: balance (by date, as known, by period), history,
replay and accounts (cli.py registers them on its app, in the order of its help)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Optional

import typer

from ledger_cli import actions, clihelp, histories
from ledger_cli.cliopts import (
    AsOf,
    Begin,
    By,
    Change,
    End,
    File,
    Format,
    JsonOut,
    KnownAt,
    NoCache,
    Since,
    Until,
    _accounts,
)


def register(app: typer.Typer, _run: Callable[..., None]) -> None:
    @app.command(**clihelp.options("balance"))
    def balance(
        ctx: typer.Context,
        accounts: Annotated[
            Optional[list[str]],
            typer.Argument(
                metavar="[ACCOUNT]...", help="Accounts to show (each with its sub-accounts).", autocompletion=_accounts
            ),  # fmt: skip
        ] = None,
        until: Until = None,
        fmt: Format = None,
        as_json: JsonOut = False,
        no_cache: NoCache = False,
        file: File = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        by: By = None,
        begin: Begin = None,
        end: End = None,
        change: Change = False,
    ) -> None:
        """Balances of every account (or those named): by date with --as-of, as known at --known-at,
        a column per period with --by."""
        _run(ctx, file, actions.balance, accounts or [], until, fmt, as_json, no_cache, as_of=as_of, known_at=known_at,
             by=by, begin=begin, end=end, change=change)  # fmt: skip

    @app.command(**clihelp.options("history"))
    def history(
        ctx: typer.Context,
        account: Annotated[
            Optional[str],
            typer.Argument(
                help="Only events of this account (and sub-accounts), with its running balance.",
                autocompletion=_accounts,
            ),  # fmt: skip
        ] = None,
        since: Since = None,
        until: Until = None,
        last: Annotated[
            Optional[int], typer.Option("--last", min=0, help="Only the last N of the events shown.")
        ] = None,
        fmt: Format = None,
        as_json: JsonOut = False,
        no_cache: NoCache = False,
        file: File = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        by_date: Annotated[
            bool, typer.Option("--by-date", help="In (date, seq) order, the running balance in that order.")
        ] = False,
        follow: Annotated[
            bool,
            typer.Option("--follow", help="Then print each new event as it is recorded (tsv or jsonl), until Ctrl-C."),
        ] = False,
    ) -> None:
        """The events in log order (or by date), each with its date."""
        _run(
            ctx, file, histories.history, account, since, until, last, fmt, as_json, no_cache,
            as_of=as_of, known_at=known_at, by_date=by_date, follow=follow,
        )  # fmt: skip

    @app.command(**clihelp.options("replay"))
    def replay(
        ctx: typer.Context,
        until: Until = None,
        fmt: Format = None,
        as_json: JsonOut = False,
        no_cache: NoCache = False,
        file: File = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
    ) -> None:
        """The whole state rebuilt (by date with --as-of, as known at --known-at), with the seq and
        hash of the last event known: the statement an auditor keeps."""
        _run(ctx, file, actions.replay, until, fmt, as_json, no_cache, as_of, known_at)

    @app.command("accounts", **clihelp.options("accounts"))
    def accounts_(
        ctx: typer.Context,
        fmt: Format = None,
        as_json: JsonOut = False,
        no_cache: NoCache = False,
        file: File = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        until: Until = None,
    ) -> None:
        """The accounts, open and closed."""
        _run(ctx, file, actions.accounts, fmt, as_json, no_cache, as_of, known_at, until)
