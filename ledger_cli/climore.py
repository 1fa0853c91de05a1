"""The Typer commands about the tool and where the books are, rather than their events:
`ledger completion SHELL` and `ledger info` (cli.py registers them on its app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Optional

import typer

from ledger_cli import clihelp
from ledger_cli.cliopts import AsOf, File, JsonOut


def register(app: typer.Typer, _run: Callable[..., None]) -> None:
    @app.command(**clihelp.options("completion"))
    def completion(
        ctx: typer.Context, shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")]
    ) -> None:
        """Print the shell's completion script (commands, options, and account names from the books)."""
        from ledger_cli import completion as shells

        prog = ctx.find_root().info_name or "ledger"
        _run(ctx, None, lambda _file: print(shells.script(shell, prog), end="") or 0)

    @app.command(**clihelp.options("info"))
    def info(ctx: typer.Context, as_json: JsonOut = False, file: File = None) -> None:
        """Where the books are and how that was chosen; their size, events, head, schema versions,
        closed-through date, cache folder and whether the C extension is in use."""
        from ledger_cli.info import info as show

        _run(ctx, file, show, as_json)

    @app.command(**clihelp.options("chart"))
    def chart(
        ctx: typer.Context,
        accounts: Annotated[
            Optional[list[str]], typer.Argument(metavar="[ACCOUNT]...", help="Accounts to draw (default: the total).")
        ] = None,
        by: Annotated[str, typer.Option("--by", help="A bar per day, week or month (by date).")] = "month",
        as_of: AsOf = None,
        fmt: Annotated[str, typer.Option("--format", help="text (the terminal) or png (needs -o).")] = "text",
        output: Annotated[Optional[str], typer.Option("-o", "--output", help="The PNG file to write.")] = None,
        width: Annotated[
            Optional[int], typer.Option("--width", min=20, help="Columns (default: the terminal's).")
        ] = None,
        file: File = None,
    ) -> None:
        """Balances over time as bars: in the terminal, or as a PNG image (ledger-cli[chart])."""
        from ledger_cli.chart import chart as draw

        _run(ctx, file, draw, accounts or [], by, as_of, fmt, output, width)
