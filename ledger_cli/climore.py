"""The Typer commands about the tool and where the books are, rather than their events:
`ledger completion SHELL` and `ledger info` (cli.py registers them on its app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from ledger_cli import clihelp
from ledger_cli.cliopts import File, JsonOut


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
