"""The store contract (tests/test_store_contract.py) on PostgreSQL, twice: reading through the
local copy of the lines (the default), and with --no-cache, reading the database's own lines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger_cli.errors import LogCorrupt
from ledger_cli.eventlog import EventLog
from ledger_cli.pgdriver import Connection
from ledger_cli.pglog import PgLog
from tests.pgcluster import with_schema
from tests.test_store_contract import StoreContract, grow


def superuser_edit(uri: str, schema: str, seq: int) -> None:
    """What a superuser can do: drop the checks and the trigger, then change a line in place."""
    conn = Connection(uri)
    try:
        conn.run(
            f"ALTER TABLE {schema}.events DISABLE TRIGGER events_append_only;"
            f"ALTER TABLE {schema}.events DROP CONSTRAINT events_hash, DROP CONSTRAINT events_columns;"
            f'UPDATE {schema}.events SET line = replace(line, \'"amount":"1"\', \'"amount":"9"\') '
            f"WHERE seq = {int(seq)}"
        )
    finally:
        conn.close()


class PgContract(StoreContract):
    use_cache = True

    @pytest.fixture(autouse=True)
    def _server(self, pg_server: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        self.base = pg_server

    @pytest.fixture(autouse=True)
    def _close(self) -> Iterator[None]:
        self.made: list[PgLog] = []
        yield
        for log in self.made:  # (the connections of the main thread; a thread's close with it)
            log.close()

    def make(self) -> EventLog:
        log = PgLog(with_schema(self.base), use_cache=self.use_cache)
        self.made.append(log)
        return log

    def tamper(self, log: EventLog, seq: int) -> None:
        assert isinstance(log, PgLog)
        superuser_edit(log.uri, log.schema, seq)


class TestPgLogNoCache(PgContract):
    use_cache = False


class TestPgLog(PgContract):
    """Through the local copy: a line changed in the database after it was copied is not seen
    by a read (it reads the copy, checked when it was made), but by verify and --no-cache."""

    def test_a_tampered_event_is_named_by_its_seq(self, log: EventLog) -> None:
        assert isinstance(log, PgLog)
        grow(log, 5)
        self.tamper(log, 3)
        with pytest.raises(LogCorrupt) as refused:
            list(PgLog(log.uri, use_cache=False).read())
        assert refused.value.line == 3

    def test_vouch_verifies_every_event_and_a_tampered_one_is_named(self, log: EventLog) -> None:
        assert isinstance(log, PgLog)
        grow(log, 5)
        assert log.vouch() == log.known_good() is True
        self.tamper(log, 4)
        direct = PgLog(log.uri, use_cache=False)
        assert not direct.known_good()
        with pytest.raises(LogCorrupt, match="line 4"):
            direct.vouch()

    def test_a_copy_made_before_the_edit_still_reads_and_a_new_copy_refuses(
        self, log: EventLog, tmp_path: object, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert isinstance(log, PgLog)
        grow(log, 5)
        self.tamper(log, 2)
        assert log.books().seq == 5  # the copy made before the edit
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path) + "/other")  # another machine
        with pytest.raises(LogCorrupt, match="line 2"):
            PgLog(log.uri).books()
