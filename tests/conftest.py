"""Shared fixtures: run the CLI in-process through both parsers, or the installed script."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from ledger_cli import entry
from ledger_cli.cli import app
from ledger_cli.config import ledger_at
from ledger_cli.domain import Command

BIN = Path(sys.executable).parent

# A loaded CI machine must not turn a slow example into a failure: no per-example deadline.
settings.register_profile("ledger", deadline=None)
settings.load_profile("ledger")


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


class Runner:
    """Invoke `ledger` in-process against a private log; `via` is "typer" or "fast".

    "typer" runs the Typer app alone; "fast" runs the real entry point, where the
    hand-made fast path takes the hot commands and Typer the rest.
    """

    def __init__(self, via: str, log: Path, uri: str | None = None) -> None:
        self.via = via
        self.log = log
        self.uri = uri  # the books are on PostgreSQL (LEDGER_CLI_FILE is this URI), not at `log`
        self._runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        if self.via == "typer":
            result = self._runner.invoke(app, list(args), input=input, env=env)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise result.exception
            return Outcome(result.exit_code, result.stdout, result.stderr)
        with self._runner.isolation(input=input, env=env) as (out, err, _):
            code = entry.main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
            return Outcome(code, out.getvalue().decode(), err.getvalue().decode())

    @property
    def location(self) -> str:
        return self.uri if self.uri is not None else str(self.log)

    def lines(self) -> list[str]:
        if self.uri is not None:
            return [str(line) for line in _database_lines(self.uri)]
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []

    def install(self, data: bytes) -> None:
        """Start the books with the log `data` (written as it is; on PostgreSQL by ledger copy)."""
        if self.uri is None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.log.write_bytes(data)
            return
        from ledger_cli.copying import copy

        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "source.jsonl")
            with open(source, "wb") as out:
                out.write(data)
            copy(source, self.uri)

    def snapshot(self) -> object:
        """Everything the store holds, to compare before and after a refused command."""
        if self.uri is not None:
            return _database_lines(self.uri), _database_head(self.uri)
        return self.log.read_bytes() if self.log.exists() else None


def _database_rows(uri: str, query: str) -> list[tuple[object, ...]]:
    from ledger_cli.pgdriver import Connection
    from ledger_cli.pglog import PgLog

    schema = PgLog(uri).schema
    conn = Connection(uri)
    try:
        if conn.one("SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = 'events'", (schema,)):
            return conn.run(query.format(s=schema))
        return []
    finally:
        conn.close()


def _database_lines(uri: str) -> list[object]:
    return [row[0] for row in _database_rows(uri, "SELECT line FROM {s}.events ORDER BY seq")]


def _database_head(uri: str) -> list[tuple[object, ...]]:
    return _database_rows(uri, "SELECT seq, hash, ts FROM {s}.head")


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private log path, exported as LEDGER_CLI_FILE (LEDGER_FILE cleared)."""
    path = tmp_path / "books" / "ledger.jsonl"
    monkeypatch.setenv("LEDGER_CLI_FILE", str(path))
    monkeypatch.delenv("LEDGER_FILE", raising=False)
    monkeypatch.delenv("LEDGER_CLI_LOCK_TIMEOUT", raising=False)
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_stores: run each test that takes `ledger` on a file and on PostgreSQL")
    config.addinivalue_line("markers", "file_only: a test of what only a file store has (in a both_stores module)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`store` is "file", or also "postgres" for a test marked both_stores and not file_only."""
    if "store" in metafunc.fixturenames:
        node = metafunc.definition
        both = node.get_closest_marker("both_stores") is not None and node.get_closest_marker("file_only") is None
        metafunc.parametrize("store", ["file", "postgres"] if both else ["file"], indirect=True)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["typer", "fast"])
def ledger(request: pytest.FixtureRequest, log: Path, store: str) -> Runner:
    """The CLI, once through Typer alone and once through the fast path (and, in a both_stores
    module, each on a file and on a PostgreSQL store: LEDGER_CLI_FILE is then its URI)."""
    if store == "postgres":
        return Runner(request.param, log, str(request.getfixturevalue("pg_uri")))
    return Runner(request.param, log)


_SEEDS: dict[tuple[Command, ...], bytes] = {}


def seed(ledger: Runner, *commands: Command) -> None:
    """Start the test's log with `commands` recorded (built once, then copied: fsync is slow)."""
    if ledger.uri is not None:
        books = ledger_at(ledger.uri)
        for command in commands:
            books.execute(command)
        books.close()
        return
    if commands not in _SEEDS:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ledger.jsonl"
            for command in commands:
                ledger_at(path, use_cache=False).execute(command)
            _SEEDS[commands] = path.read_bytes()
    ledger.log.parent.mkdir(parents=True, exist_ok=True)
    ledger.log.write_bytes(_SEEDS[commands])


def run_installed(
    args: Sequence[str], log: Path, *, env: dict[str, str] | None = None, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script `ledger` as a separate process."""
    environment = {k: v for k, v in os.environ.items() if k not in ("LEDGER_FILE",)}
    environment["LEDGER_CLI_FILE"] = str(log)
    environment.update(env or {})
    return subprocess.run(
        [str(BIN / "ledger"), *args], env=environment, capture_output=True, text=True, timeout=timeout, input=input
    )


@pytest.fixture
def installed(log: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run_installed(args, log, **kwargs)  # type: ignore[arg-type]

    return run


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for the session (tests/pgcluster.py): a URI without a schema."""
    from tests.pgcluster import server

    yield from server()


@pytest.fixture
def pg_uri(pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty set of books on the session's server (a schema of its own), exported as
    LEDGER_CLI_FILE; the local copies of its lines go to this test's own cache folder."""
    from tests.pgcluster import with_schema

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TZ", os.environ.get("TZ", "UTC"))
    uri = with_schema(pg_server)
    monkeypatch.setenv("LEDGER_CLI_FILE", uri)
    monkeypatch.delenv("LEDGER_CLI_LOCK_TIMEOUT", raising=False)
    return uri
