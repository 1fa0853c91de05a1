"""Where the books live and how long to wait for them: the one place that reads `--file`,
LEDGER_CLI_FILE, LEDGER_CLI_LOCK_TIMEOUT and the user's data folder, and opens the store.

A location is a JSON Lines file (filelog.FileLog) or a PostgreSQL URI (`postgresql://…` or
`postgres://…`: pglog.PgLog, whose events are stamped by the server's clock); nothing above
this module knows which.
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
        return option if is_database(option) else os.path.expanduser(option)
    env = os.environ.get(FILE_ENV)
    if env is not None:
        if not env:
            raise InvalidValue(f"{FILE_ENV} is set but empty: give the path of the log, or unset it")
        return env if is_database(env) else os.path.expanduser(env)
    import platformdirs  # imported only when needed

    return os.path.join(platformdirs.user_data_dir(APP_NAME), "ledger.jsonl")


def is_database(location: str) -> bool:
    """Whether a location names a PostgreSQL database rather than a file."""
    return location.startswith(("postgresql://", "postgres://"))


def cache_folder() -> str:
    """The user's cache folder (local copies of the lines of a database's books): on Linux
    $XDG_CACHE_HOME/ledger-cli or ~/.cache/ledger-cli, as platformdirs says, without its import."""
    import sys

    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_CACHE_HOME", "").strip()
        return os.path.join(base if os.path.isabs(base) else os.path.expanduser("~/.cache"), APP_NAME)
    import platformdirs

    return platformdirs.user_cache_dir(APP_NAME)


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


_EARLY: dict[str, object] = {}  # database stores opened before their command parsed its dates


def enter_books_zone(option: str | None) -> None:
    """Before a command parses a date: when the books are on PostgreSQL, connect now and take
    their time zone (pglog), so that every day on the command line is a day of the books."""
    location = resolve_path(option)
    if is_database(location) and location not in _EARLY:
        from ledger_cli.pglog import PgLog

        database = PgLog(location)
        database.conn()
        _EARLY[location] = database


def forget_early() -> None:
    """The command is over: close a database store opened early that it never took."""
    while _EARLY:
        _, database = _EARLY.popitem()
        close = getattr(database, "close", None)
        if close is not None:
            close()


def ledger_at(
    path: str | PathLike[str],
    *,
    use_cache: bool = True,
    clock: Callable[[], str] | None = None,
    new_id: Callable[[], str] | None = None,
) -> Ledger:
    """The application over the log at `path`, a file or a PostgreSQL URI (checkpoints, or the
    database's local copy, used and kept unless told not)."""
    from ledger_cli.service import Ledger
    from ledger_cli.stamps import system_clock, uuid7

    location = os.fspath(path)
    if is_database(location):
        from ledger_cli.pglog import PgLog

        early = _EARLY.pop(location, None)
        database = early if isinstance(early, PgLog) else PgLog(location)
        database.use_cache = use_cache
        return Ledger(database, clock=clock or database.clock, new_id=new_id or uuid7, timeout=lock_timeout)
    from ledger_cli.filelog import FileLog

    log = FileLog(location, use_cache=use_cache)
    return Ledger(log, clock=clock or system_clock, new_id=new_id or uuid7, timeout=lock_timeout)


def open_ledger(option: str | None, *, use_cache: bool = True) -> Ledger:
    """The books the command line names (`-f`, the environment, or the default file)."""
    return ledger_at(resolve_path(option), use_cache=use_cache)
