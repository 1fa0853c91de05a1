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


ACCOUNT_SLOTS = ("account", "source", "to", "accounts")  # the fast path's positional names that take one


def fast_answer(prog: str) -> tuple[str, int] | None:
    """The answer (its text and exit code) to a shell asking for the account names of one of
    the fast path's commands, without Typer (a completion must answer at once on a long log);
    None for anything else (Typer answers: commands, options, other arguments)."""
    instruction = os.environ.get(variable(prog), "")
    shell = instruction.partition("_")[2]
    words, incomplete = _words(shell)
    if words is None:
        return None
    from ledger_cli.fastpath import _COMMANDS

    file, rest = None, words
    if rest[:1] in (["-f"], ["--file"]) and len(rest) >= 2:
        file, rest = rest[1], rest[2:]
    if incomplete.startswith("-"):
        return None
    if not rest:  # the command's name (zsh and fish show each one's line of help beside it)
        from ledger_cli.clihelp import ORDER, SHORT

        commands = [name for name in ORDER if name.startswith(incomplete)]
        return _formatted(shell, commands, [SHORT[name] for name in commands])
    if rest[0] not in _COMMANDS:
        return None
    _, names, variadic, values, flags = _COMMANDS[rest[0]]
    slot, at = 0, 1
    while at < len(rest):
        word = rest[at]
        if word in values:
            if values[word] == "file" and at + 1 < len(rest):
                file = rest[at + 1]
            at += 2
            continue
        if word in flags:
            at += 1
            continue
        if word.startswith("-"):
            return None
        slot, at = slot + 1, at + 1
    if at > len(rest):  # the word asked for is an option's value (--memo <TAB>)
        return None
    name = names[min(slot, len(names) - 1)] if variadic and names else names[slot] if slot < len(names) else None
    if name not in ACCOUNT_SLOTS:
        return None
    return _formatted(shell, accounts(file, incomplete))


def _formatted(shell: str, found: list[str], helps: list[str] | None = None) -> tuple[str, int]:
    """Typer's answer to `shell` for these values (and their help texts), and its exit code."""
    if shell == "zsh":
        return (_zsh(found, helps) if found else "_files"), 0
    if shell == "fish":
        if os.environ.get("_TYPER_COMPLETE_FISH_ACTION") == "is-args":
            return "", 0 if found else 1
        if helps:
            return "\n".join(f"{value}\t{' '.join(text.split())}" for value, text in zip(found, helps)), 0
    return "\n".join(found), 0


def _words(shell: str) -> tuple[list[str] | None, str]:
    """The words before the one being completed (without the program's name), and that one, as
    Typer's classes read them from the shell's variables."""
    import shlex

    try:
        if shell == "bash":
            words = shlex.split(os.environ["COMP_WORDS"])
            cword = int(os.environ["COMP_CWORD"])
            return words[1:cword], words[cword] if cword < len(words) else ""
        if shell in ("zsh", "fish"):
            line = os.environ.get("_TYPER_COMPLETE_ARGS", "")
            words = shlex.split(line)[1:]
            if words and not line.endswith(" "):
                return words[:-1], words[-1]
            return words, ""
    except (KeyError, ValueError):
        pass
    return None, ""


def _zsh(values: list[str], helps: list[str] | None = None) -> str:
    """Typer's zsh answer for these values (each with its help, if given)."""

    def escape(s: str) -> str:
        return s.replace('"', '""').replace("'", "''").replace("$", "\\$").replace("`", "\\`").replace(":", r"\\:")

    items = [f'"{escape(v)}"' + (f':"{escape(h)}"' if helps else "") for v, h in zip(values, helps or values)]
    return "_arguments '*: :((" + "\n".join(items) + "))'"
