"""A hand-made parser for the hot commands, so a shell loop does not pay for Typer.

It understands exactly the plain forms of the everyday commands (writes, `balance`,
`accounts`, `history`) and of the auditor's (`replay`, `verify`), and declines (returns None) on
anything else: --help, an unknown option, a missing argument, `--`. Declined command
lines go to the Typer app, which also owns every usage error. Accepted ones call the same
functions in actions.py that the Typer commands call; the CLI test suite runs through both
parsers.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger_cli import actions, histories
from ledger_cli.config import enter_books_zone

TYPE_CHECKING = False  # typing itself costs start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

_FILE = {"-f": "file", "--file": "file"}  # -f may also follow the command
_WRITE_VALUES = {"-m": "memo", "--memo": "memo", "-k": "key", "--idempotency-key": "key", "--date": "date", **_FILE}
_WRITE_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--json": "as_json"}
_READ_VALUES = {"--format": "fmt", "--as-of": "as_of", "--known-at": "known_at", **_FILE}
_READ_FLAGS = {"--json": "as_json", "--no-cache": "no_cache"}

# name -> (action, positional names, variadic, value options, flag options)
_COMMANDS: dict[str, tuple[Callable[..., int], tuple[str, ...], bool, dict[str, str], dict[str, str]]] = {
    "deposit": (actions.deposit, ("account", "amount"), False, _WRITE_VALUES, _WRITE_FLAGS),
    "withdraw": (actions.withdraw, ("account", "amount"), False, _WRITE_VALUES, _WRITE_FLAGS),
    "transfer": (actions.transfer, ("source", "to", "amount"), False, _WRITE_VALUES, _WRITE_FLAGS),
    "open": (actions.open_account, ("account",), False, _WRITE_VALUES, _WRITE_FLAGS),
    "close": (actions.close_account, ("account",), False, _WRITE_VALUES, _WRITE_FLAGS),
    "reverse": (actions.reverse, ("seq",), False, _WRITE_VALUES, _WRITE_FLAGS),
    "balance": (
        actions.balance,
        ("accounts",),
        True,
        {**_READ_VALUES, "--until": "until", "--by": "by", "--begin": "begin", "--end": "end"},
        {**_READ_FLAGS, "--change": "change"},
    ),
    "accounts": (actions.accounts, (), False, {**_READ_VALUES, "--until": "until"}, _READ_FLAGS),
    "replay": (actions.replay, (), False, {**_READ_VALUES, "--until": "until"}, _READ_FLAGS),
    "verify": (actions.verify, (), False, {"--format": "fmt", "--against": "against", **_FILE}, {"--json": "as_json"}),
    "history": (
        histories.history,
        ("account",),
        False,
        {**_READ_VALUES, "--since": "since", "--until": "until", "--last": "last"},
        {**_READ_FLAGS, "--by-date": "by_date", "--follow": "follow"},
    ),
}
_OPTIONAL = {"history": 1}  # how many of a command's last positional arguments may be left out
_REPEATED = {"against"}  # options that may be given more than once: a list of their values


def _global_file(args: list[str]) -> tuple[str | None, list[str]] | None:
    """Split off a leading -f/--file option; None if the global options are anything else."""
    file = None
    while args and args[0].startswith("-"):
        head = args[0]
        if head in ("-f", "--file") and len(args) >= 2:
            file, args = args[1], args[2:]
        elif head.startswith("--file="):
            file, args = head[len("--file=") :], args[1:]
        else:
            return None
    return file, args


def parse(args: list[str]) -> tuple[Callable[..., int], tuple[Any, ...], dict[str, Any]] | None:
    """The action and its arguments for a plain hot command line, or None to decline."""
    split = _global_file(args)
    if split is None or not split[1]:
        return None
    file, rest = split
    spec = _COMMANDS.get(rest[0])
    if spec is None:
        return None
    action, positional_names, variadic, values, flags = spec
    positionals: list[str] = []
    options: dict[str, Any] = {}
    tokens = iter(rest[1:])
    for token in tokens:
        if token.startswith("-") and token != "-":
            # Click splits `--long=value`; for a short option `-m=X` the value is `=X`.
            name, has_value, inline = token.partition("=") if token.startswith("--") else (token, "", "")
            if name in values:
                value = inline if has_value else next(tokens, None)
                if value is None:
                    return None
                if values[name] in _REPEATED:
                    options.setdefault(values[name], []).append(value)
                else:
                    options[values[name]] = value
            elif name in flags and not has_value:
                options[flags[name]] = True
            else:
                return None  # --help, --, unknown options, negative numbers: Typer's job
        else:
            positionals.append(token)
    after = options.pop("file", None)
    if after is not None:
        if file is not None and file != after:
            return None  # given twice: Typer's path names the problem
        file = after
    if "last" in options:  # a count: anything but plain digits is Typer's to refuse
        text = options["last"]
        if not text.isascii() or not text.isdigit():
            return None
        options["last"] = int(text)
    if variadic:
        return action, (file, positionals), options
    missing = len(positional_names) - len(positionals)
    if not 0 <= missing <= _OPTIONAL.get(rest[0], 0):
        return None
    return action, (file, *positionals), options


def run_fast(args: list[str]) -> int | None:
    """Run a hot command without Typer, or return None when it is not one."""
    parsed = parse(args)
    if parsed is None:
        return None
    action, positional, options = parsed

    def call() -> int | None:
        enter_books_zone(positional[0])  # every action takes the -f option first
        return action(*positional, **options)

    return actions.guarded(call)
