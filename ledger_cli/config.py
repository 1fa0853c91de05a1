"""Where the books live and how long to wait for them: the one place that reads `--file`,
LEDGER_CLI_FILE, LEDGER_CLI_LOCK_TIMEOUT and the user's data folder, and opens the store.

Today every store is a JSON Lines file (filelog.FileLog). A PostgreSQL store plugs in here:
a `postgresql://` location chooses it, and nothing above this module changes.
"""

from __future__ import annotations

import os

from ledger_cli.errors import InvalidValue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from os import PathLike

    from ledger_cli.service import Ledger

APP_NAME = "ledger-cli"
FILE_ENV = "LEDGER_CLI_FILE"
LOCK_TIMEOUT_ENV = "LEDGER_CLI_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0


def resolve_path(option: str | None) -> str:
    """Where the log lives: --file, then LEDGER_CLI_FILE, then the user data folder.

    Paths are plain strings: pathlib costs several milliseconds of start-up.
    """
    if option is not None:
        if not option:
            raise InvalidValue("--file is empty: give the path of the log")
        return os.path.expanduser(option)
    env = os.environ.get(FILE_ENV)
    if env is not None:
        if not env:
            raise InvalidValue(f"{FILE_ENV} is set but empty: give the path of the log, or unset it")
        return os.path.expanduser(env)
    import platformdirs  # imported only when needed

    return os.path.join(platformdirs.user_data_dir(APP_NAME), "ledger.jsonl")


def lock_timeout() -> float:
    """Seconds a writer waits for the lock: LEDGER_CLI_LOCK_TIMEOUT, or 30."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if raw is None or raw == "":
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:
        raise InvalidValue(f"{LOCK_TIMEOUT_ENV} must be a number of seconds, not {raw!r}")
    return value


def ledger_at(
    path: str | PathLike[str],
    *,
    use_cache: bool = True,
    clock: Callable[[], str] | None = None,
    new_id: Callable[[], str] | None = None,
) -> Ledger:
    """The application over the log file at `path` (checkpoints used and kept unless told not)."""
    from ledger_cli.filelog import FileLog
    from ledger_cli.service import Ledger
    from ledger_cli.stamps import system_clock, uuid7

    log = FileLog(os.fspath(path), use_cache=use_cache)
    return Ledger(log, clock=clock or system_clock, new_id=new_id or uuid7, timeout=lock_timeout)


def open_ledger(option: str | None, *, use_cache: bool = True) -> Ledger:
    """The books the command line names (`-f`, the environment, or the default file)."""
    return ledger_at(resolve_path(option), use_cache=use_cache)
