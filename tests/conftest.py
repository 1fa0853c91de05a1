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

    def __init__(self, via: str, log: Path) -> None:
        self.via = via
        self.log = log
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

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private log path, exported as LEDGER_CLI_FILE (LEDGER_FILE cleared)."""
    path = tmp_path / "books" / "ledger.jsonl"
    monkeypatch.setenv("LEDGER_CLI_FILE", str(path))
    monkeypatch.delenv("LEDGER_FILE", raising=False)
    monkeypatch.delenv("LEDGER_CLI_LOCK_TIMEOUT", raising=False)
    return path


@pytest.fixture(params=["typer", "fast"])
def ledger(request: pytest.FixtureRequest, log: Path) -> Runner:
    """The CLI, once through Typer alone and once through the fast path."""
    return Runner(request.param, log)


_SEEDS: dict[tuple[Command, ...], bytes] = {}


def seed(ledger: Runner, *commands: Command) -> None:
    """Start the test's log with `commands` recorded (built once, then copied: fsync is slow)."""
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
