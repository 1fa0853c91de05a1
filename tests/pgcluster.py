"""A throwaway PostgreSQL cluster for the tests: initdb and pg_ctl from the installed binaries
in a temporary folder, reached only by a Unix socket there (no port is taken), or the server
LEDGER_CLI_TEST_PG names. Every test gets a schema of its own (the URI's search_path)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

TEST_PG_ENV = "LEDGER_CLI_TEST_PG"


def binaries() -> str | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    folders = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(f.split("/")[-2]) if f.split("/")[-2].isdigit() else 0
    )
    for folder in reversed(folders):
        if os.path.exists(os.path.join(folder, "initdb")):
            return folder
    return None


def _as_owner(argv: list[str]) -> list[str]:
    """initdb refuses root: run the server as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


class Cluster:
    def __init__(self) -> None:
        folder = binaries()
        if folder is None:
            pytest.skip(
                "PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql; "
                f"or point {TEST_PG_ENV} at a server): the PostgreSQL tests need one"
            )
        self.bin = folder
        self.root = tempfile.mkdtemp(prefix="ledger-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.socket = os.path.join(self.root, "socket")
        os.mkdir(self.socket)
        if os.geteuid() == 0:
            shutil.chown(self.socket, "postgres", "postgres")
            os.mkdir(self.data, 0o700)
            shutil.chown(self.data, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-locale")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            _as_owner([os.path.join(self.bin, tool), *args]), capture_output=True, text=True, timeout=120, cwd="/"
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        options = f"-c listen_addresses='' -k {self.socket} -c fsync=on -c max_connections=300"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.data, "log.txt"), "-w", "start")

    def restart_immediately(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        self.start()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def base(self) -> str:
        return f"postgresql:///postgres?host={quote(self.socket, safe='')}&user=postgres"


def server() -> Iterator[str]:
    """The session's server, as a URI without a schema."""
    given = os.environ.get(TEST_PG_ENV)
    if given:
        yield given
        return
    cluster = Cluster()
    try:
        yield cluster.base
    finally:
        cluster.stop()


def with_schema(base: str, schema: str | None = None) -> str:
    """`base` with a search_path of a new schema (t_<random>)."""
    schema = schema or f"t_{uuid.uuid4().hex[:12]}"
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options={quote(f'-c search_path={schema}', safe='')}"
