"""The PostgreSQL driver, behind the few calls the store makes: the one module that imports it.

psycopg2 (the `postgres` extra, `psycopg2-binary`): its import costs a shell loop about 30 ms
where psycopg 3's costs 130-190 ms, and both are libpq, so a URI, a service file, `.pgpass`,
`sslmode` and multi-host lists behave the same (README, "Shared books on PostgreSQL"). Every
driver error becomes a LedgerError here: a server that cannot be reached or refuses the login
is exit 3, a lock wait past the timeout exit 4, a row the database's own checks refuse exit 3.
"""

from __future__ import annotations

import os
import re
import select
from collections.abc import Sequence
from typing import IO, Any

from ledger_cli.errors import InvalidValue, LedgerError, LockTimeout, StoreError

_PASSWORD = re.compile(r"(://[^:/@?]*:)[^@/?]*@|(password\s*=\s*)('[^']*'|\S+)")


def redact(uri: str) -> str:
    """`uri` with any password in it replaced by ***, for messages."""
    return _PASSWORD.sub(lambda m: (m.group(1) + "***@") if m.group(1) else m.group(2) + "***", uri)


def _driver() -> Any:
    try:
        import psycopg2
        import psycopg2.extensions
    except ImportError:
        raise InvalidValue(
            "this location is a PostgreSQL URI, and the PostgreSQL driver is not installed: "
            "pip install 'ledger-cli[postgres]' (or psycopg2-binary)"
        ) from None
    return psycopg2


def search_path_schema(uri: str) -> str | None:
    """The first schema the URI's `options=-c search_path=…` names, or None."""
    try:
        options = _driver().extensions.parse_dsn(uri).get("options", "")
    except Exception:  # the driver says what is wrong with the URI when it connects
        return None
    found = re.search(r"search_path\s*=\s*([^\s,]+)", options)
    return None if found is None else found.group(1).strip("'\"")


class Connection:
    """One connection in autocommit mode; transactions are begun and ended explicitly."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        driver = _driver()
        os.environ.setdefault("PGCONNECT_TIMEOUT", "10")  # libpq waits forever by default
        try:
            with _quiet_stderr():  # libpq prints a notice that comes while connecting (a shutdown's)
                self.raw = driver.connect(uri, application_name="ledger-cli")
        except driver.OperationalError as error:
            raise StoreError(f"cannot connect to PostgreSQL at {redact(uri)}: {_first_line(error)}") from None
        except driver.ProgrammingError as error:  # a malformed URI
            raise InvalidValue(f"not a usable PostgreSQL URI ({redact(uri)}): {_first_line(error)}") from None
        self.raw.autocommit = True
        self.cursor = self.raw.cursor()

    def run(self, sql: str, params: Sequence[object] | dict[str, object] | None = None) -> list[tuple[Any, ...]]:
        """Execute one statement (or several, without params); the rows of the last, if any."""
        with translated(self.uri):
            self.cursor.execute(sql, params)
            return self.cursor.fetchall() if self.cursor.description is not None else []

    def one(self, sql: str, params: Sequence[object] | None = None) -> tuple[Any, ...] | None:
        rows = self.run(sql, params)
        return rows[0] if rows else None

    def insert_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """One INSERT … VALUES %s of many rows (psycopg2.extras.execute_values)."""
        from psycopg2.extras import execute_values

        with translated(self.uri):
            execute_values(self.cursor, sql, rows, page_size=1000)

    def copy_in(self, sql: str, source: IO[bytes]) -> None:
        with translated(self.uri):
            self.cursor.copy_expert(sql, source, size=1 << 16)

    def copy_out(self, sql: str, sink: IO[bytes]) -> None:
        with translated(self.uri):
            self.cursor.copy_expert(sql, sink, size=1 << 20)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a notification (LISTEN first); whether one came."""
        with translated(self.uri):
            if not self.raw.notifies:
                ready, _, _ = select.select([self.raw], [], [], timeout)
                if ready:
                    self.raw.poll()
            came = bool(self.raw.notifies)
            self.raw.notifies.clear()
            return came

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:
            pass


class translated:
    """Turn driver errors inside the block into LedgerErrors with the contract's exit codes."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        if error is None or isinstance(error, LedgerError) or not isinstance(error, Exception):
            return
        driver = _driver()
        if not isinstance(error, driver.Error):
            return
        code = getattr(error, "pgcode", None) or ""
        if code == "55P03":
            raise LockTimeout("the books are locked by another writer (LEDGER_CLI_LOCK_TIMEOUT passed)") from None
        if code.startswith("23"):
            raise StoreError(f"the store refused an event: {_first_line(error)}") from None
        if code == "42501":
            raise StoreError(f"PostgreSQL refused: {_first_line(error)}") from None
        if isinstance(error, (driver.OperationalError, driver.InterfaceError)):
            raise StoreError(f"lost the connection to PostgreSQL at {redact(self.uri)}: {_first_line(error)}") from None
        raise StoreError(f"PostgreSQL: {_first_line(error)}") from None


class _quiet_stderr:
    """File descriptor 2 pointed at /dev/null for a moment: what libpq writes there itself,
    before the driver has set its own notice handler, would be a second line on stderr."""

    def __enter__(self) -> None:
        self.saved = os.dup(2)
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 2)
        os.close(quiet)

    def __exit__(self, *_: object) -> None:
        os.dup2(self.saved, 2)
        os.close(self.saved)


def is_disconnect(error: LedgerError) -> bool:
    return str(error).startswith("lost the connection to PostgreSQL")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
