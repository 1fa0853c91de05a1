"""Long output on a terminal goes through a pager, as git's does: `$PAGER`, else `less -FRX`
(which quits at once when the output fits the screen, keeps colours and leaves the screen as
it was). Never when stdout is not a terminal (a pipe, a file: scripts pay nothing), nor with
`--no-pager` before the command, nor when PAGER is empty or `cat`. The pager gets this
process's stdout: the commands write as they always do."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

_ON: list[int] = []  # the terminal's width while a pager has our stdout (output is for it)
PAGED = frozenset(
    {"history", "balance", "accounts", "restatement", "export", "chart"}
)  # the ones whose output runs long


def wanted(args: list[str]) -> tuple[bool, list[str]]:
    """Whether this command line's output should be paged, and the arguments without the
    global `--no-pager` (only before the command, as git's)."""
    rest, no_pager, at = list(args), False, 0
    while at < len(rest) and rest[at].startswith("-"):
        if rest[at] == "--no-pager":
            del rest[at]
            no_pager = True
            continue
        at += 2 if rest[at] in ("-f", "--file") else 1
    command = rest[at] if at < len(rest) else None
    if no_pager or command not in PAGED or any(a in ("-h", "--help", "-o", "--output") for a in rest):
        return False, rest
    return sys.stdout.isatty() and _command() is not None, rest


def _command() -> str | None:
    chosen = os.environ.get("PAGER")
    if chosen is None:
        return "less -FRX"
    chosen = chosen.strip()
    return None if chosen in ("", "cat") else chosen


def start() -> subprocess.Popen[bytes] | None:
    """Start the pager on this process's stdout (fd 1 becomes the pager's stdin); None if it
    cannot be started (the output then goes to the terminal as it is)."""
    import subprocess

    command = _command()
    if command is None:
        return None
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    try:
        columns = os.get_terminal_size(1).columns
        sys.stdout.flush()
        pager = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError:
        return None
    assert pager.stdin is not None
    os.dup2(pager.stdin.fileno(), 1)
    pager.stdin.close()
    _ON.append(columns if columns > 0 else int(os.environ.get("COLUMNS", "80") or 80))  # (a pty may say 0)
    return pager


def on_terminal() -> bool:
    """Whether stdout is a terminal, or a pager's on one (the output is for a person)."""
    return bool(_ON) or sys.stdout.isatty()


def width() -> int | None:
    """The terminal's width while paging (rich sees only a pipe), else None."""
    return _ON[-1] if _ON else None


def finish(pager: subprocess.Popen[bytes]) -> None:
    """Hand the pager the end of the output and wait for the reader to quit it."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # (our end of the pipe closes: the pager sees the end)
    os.close(devnull)
    while True:
        try:
            pager.wait()
            return
        except KeyboardInterrupt:  # Ctrl-C in the pager is the pager's
            continue
