"""Shell completion (bash, zsh, fish) through Typer's machinery: the script `ledger completion
SHELL` prints, and the names it offers for an ACCOUNT argument, read from the books the command
line names (`-f` before or after the command, else LEDGER_CLI_FILE or the default). The program
name is the one it was invoked by (`ledger` or `ledger-cli`), and so is the variable that asks
for completions (`_LEDGER_COMPLETE`, `_LEDGER_CLI_COMPLETE`): entry.py steps around the fast
path while it is set."""

from __future__ import annotations

import os
import sys

NAMES = ("ledger", "ledger-cli")
SHELLS = ("bash", "zsh", "fish")


def program() -> str:
    """The name this process was invoked by, if it is one of ours (else `ledger`)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name in NAMES else "ledger"


def variable(prog: str) -> str:
    """The environment variable by which a shell asks `prog` for completions."""
    return "_{}_COMPLETE".format(prog.replace("-", "_").upper())


def requested() -> bool:
    """Whether a shell is asking for completions (either name's variable is set)."""
    return any(os.environ.get(variable(name)) for name in NAMES)


def script(shell: str, prog: str) -> str:
    """The completion script of `shell` for `prog` (Typer's, which calls `prog` back)."""
    from ledger_cli.errors import InvalidValue

    if shell not in SHELLS:
        raise InvalidValue(f"invalid shell {shell!r}: choose one of {', '.join(SHELLS)}")
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=prog, complete_var=variable(prog), shell=shell).rstrip("\n") + "\n"


def accounts(file: str | None, incomplete: str) -> list[str]:
    """The books' account names that start with `incomplete`, sorted; nothing when the books
    cannot be read (a completion never prints an error into the user's command line)."""
    try:
        from ledger_cli.config import enter_books_zone, open_ledger

        enter_books_zone(file)
        ledger = open_ledger(file)
        try:
            names = ledger.state(keys=False, dated=False).balances
        finally:
            ledger.close()
    except Exception:  # noqa: BLE001  (unreadable books: offer nothing)
        return []
    return sorted(name for name in names if name.startswith(incomplete))
