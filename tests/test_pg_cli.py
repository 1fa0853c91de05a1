"""The command line on a PostgreSQL store (contract section 8): the same commands, outputs and
exit codes as on a file, the database's own refusals with the client's rules bypassed, and
writers racing from many processes. Every process here is the installed `ledger`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli.codec import seal
from ledger_cli.events import Event
from ledger_cli.pgdriver import Connection
from ledger_cli.pglog import PgLog
from ledger_cli.stamps import uuid7
from tests.conftest import run_installed
from tests.pgcluster import with_schema


def ledger(uri: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_installed(list(args), uri, env=env)  # type: ignore[arg-type]


def sql(uri: str, statement: str) -> list[tuple[object, ...]]:
    conn = Connection(uri)
    try:
        return conn.run(statement)
    finally:
        conn.close()


def schema_of(uri: str) -> str:
    return PgLog(uri).schema


def test_the_same_commands_give_the_same_books_and_lines_as_on_a_file(pg_uri: str, tmp_path: Path) -> None:
    file = str(tmp_path / "books.jsonl")
    script = [
        ("open", "assets:bank"),
        ("deposit", "assets:bank", "1200", "--date", "2025-12-01", "-k", "pay-1"),
        ("withdraw", "assets:bank", "50", "-m", 'card "fee" \\ café'),
        ("transfer", "assets:bank", "assets:cash", "100.25"),
        ("reverse", "4"),
        ("deposit", "assets:bank", "1200", "--date", "2025-12-01", "-k", "pay-1"),  # a retry: nothing new
    ]
    for args in script:
        on_db, on_file = ledger(pg_uri, *args), ledger(file, *args)
        assert (on_db.returncode, on_db.stderr) == (on_file.returncode, on_file.stderr) == (0, ""), args
    for read in (("balance",), ("accounts",), ("balance", "--as-of", "2025-12-31")):
        on_db, on_file = ledger(pg_uri, *read), ledger(file, *read)
        assert on_db.returncode == on_file.returncode == 0
        assert on_db.stdout == on_file.stdout, read
    as_json = [json.loads(ledger(where, "balance", "--json").stdout) for where in (pg_uri, file)]
    for books in as_json:  # the same books; the instants and so the hashes are each store's own
        books.pop("ts"), books.pop("head", None)
    assert as_json[0] == as_json[1]
    history = ledger(pg_uri, "history", "--format", "jsonl")
    stored = [row[0] for row in sql(pg_uri, f"SELECT line FROM {schema_of(pg_uri)}.events ORDER BY seq")]
    assert [json.loads(line) for line in history.stdout.splitlines()] == [json.loads(line) for line in stored]
    assert ledger(pg_uri, "verify").returncode == 0
    refused = ledger(pg_uri, "withdraw", "assets:cash", "1000")
    assert refused.returncode == 1 and refused.stderr.startswith("ledger: error: insufficient funds")
    assert len(refused.stderr.splitlines()) == 1


def test_a_server_that_cannot_be_reached_or_refuses_the_login_is_exit_3_in_one_line(pg_server: str) -> None:
    unreachable = "postgresql:///postgres?host=/nonexistent-ledger-socket&user=postgres"
    no_such_role = pg_server.replace("user=postgres", "user=nobody_here")
    for uri in (unreachable, no_such_role):
        for args in (("balance",), ("deposit", "a", "1"), ("verify",)):
            done = ledger(uri, *args)
            assert done.returncode == 3, (uri, args, done.stderr)
            assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
            assert done.stderr.startswith("ledger: error: cannot connect to PostgreSQL")


def test_a_password_in_the_uri_is_never_printed(pg_server: str) -> None:
    uri = "postgresql://someone:s3cret-pw@/postgres?host=/nonexistent-ledger-socket"
    done = ledger(uri, "balance")
    assert done.returncode == 3 and "s3cret-pw" not in done.stderr and "***" in done.stderr


def test_without_the_driver_a_uri_is_exit_2_saying_what_to_install(pg_uri: str, tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "psycopg2"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('no driver here')\n")
    done = ledger(pg_uri, "balance", env={"PYTHONPATH": str(shim.parent)})
    assert done.returncode == 2 and "pip install 'ledger-cli[postgres]'" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_a_writer_waits_for_the_head_row_then_exits_4(pg_uri: str) -> None:
    assert ledger(pg_uri, "deposit", "a", "10").returncode == 0
    holder = Connection(pg_uri)
    try:
        holder.run("BEGIN")
        holder.run(f"SELECT * FROM {schema_of(pg_uri)}.head FOR UPDATE")
        done = ledger(pg_uri, "deposit", "a", "1", env={"LEDGER_CLI_LOCK_TIMEOUT": "0.3"})
        assert done.returncode == 4 and len(done.stderr.splitlines()) == 1, done.stderr
        assert ledger(pg_uri, "balance").stdout == "a\t10\n"  # readers never wait
    finally:
        holder.close()
    assert ledger(pg_uri, "deposit", "a", "1").returncode == 0


def test_a_line_edited_by_a_superuser_fails_verify_and_no_cache_reads_naming_its_seq(pg_uri: str) -> None:
    for amount in ("10", "20", "30"):
        assert ledger(pg_uri, "deposit", "a", amount).returncode == 0
    s = schema_of(pg_uri)
    sql(
        pg_uri,
        f"ALTER TABLE {s}.events DISABLE TRIGGER events_append_only;"
        f"ALTER TABLE {s}.events DROP CONSTRAINT events_hash, DROP CONSTRAINT events_columns;"
        f'UPDATE {s}.events SET line = replace(line, \'"amount":"20"\', \'"amount":"25"\') WHERE seq = 2',
    )
    verify = ledger(pg_uri, "verify")
    assert verify.returncode == 3 and "line 2" in verify.stdout + verify.stderr
    assert "events_append_only" in verify.stdout + verify.stderr and "events_hash" in verify.stdout + verify.stderr
    for read in (("balance", "--no-cache"), ("history", "--no-cache"), ("replay", "--no-cache")):
        done = ledger(pg_uri, *read)
        assert done.returncode == 3 and "line 2" in done.stderr, read


def test_a_deleted_row_is_named_by_verify(pg_uri: str) -> None:
    for amount in ("10", "20", "30"):
        assert ledger(pg_uri, "deposit", "a", amount).returncode == 0
    s = schema_of(pg_uri)
    sql(
        pg_uri,
        f"ALTER TABLE {s}.events DISABLE TRIGGER USER; ALTER TABLE {s}.events DROP CONSTRAINT events_chain;"
        f"DELETE FROM {s}.events WHERE seq = 2",
    )
    verify = ledger(pg_uri, "verify")
    assert verify.returncode == 3 and "line 2" in verify.stdout + verify.stderr  # seq 3 where 2 belongs
    assert "events_chain" in verify.stdout + verify.stderr


def next_row(uri: str, kind: str = "deposited", *, columns: dict[str, object] | None = None, **fields: object) -> str:
    """An INSERT of a well-formed next event (right seq, prev, hash, ts): only `fields` (the
    event's, sealed into its line) or `columns` (the row's, beside a true line) break a rule."""
    s = schema_of(uri)
    seq, prev, ts = sql(uri, f"SELECT seq, hash, ts FROM {s}.events ORDER BY seq DESC LIMIT 1")[0]
    given = {"type": kind, "seq": int(seq) + 1, "id": uuid7(), "ts": str(ts), "prev": str(prev), "date": "2026-01-01"}
    event = Event(**{**given, **fields})  # type: ignore[arg-type]
    line = seal(event).rstrip(b"\n").decode()
    row = {"seq": event.seq, "line": line, "id": event.id, "ts": event.ts, "key": event.key, "target": event.target,
           "prev": event.prev, "hash": event.hash, "prev_ts": str(ts), **(columns or {})}  # fmt: skip
    text = ", ".join("NULL" if v is None else str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"
                     for v in row.values())  # fmt: skip
    return f"INSERT INTO {s}.events ({', '.join(row)}) VALUES ({text})"


def _first(uri: str, column: str) -> str:
    return str(sql(uri, f"SELECT {column} FROM {schema_of(uri)}.events WHERE seq = 1")[0][0])


def _move(uri: str, **fields: object) -> str:
    return next_row(uri, account="a", amount="1", **fields)


EARLY = "2001-01-01T00:00:00.000000Z"
# Each attempt, made by a superuser with the client bypassed, and the check that refuses it.
REFUSALS = {
    "a gap (seq one too far)": (lambda u: _move(u, seq=4), "events_chain"),
    "a fork (a second seq 2)": (
        lambda u: _move(u, seq=2, prev=_first(u, "hash"), ts=_first(u, "ts"), columns={"prev_ts": _first(u, "ts")}),
        "events_pkey",
    ),
    "a wrong prev": (lambda u: _move(u, prev="f" * 64), "events_chain"),
    "a ts before the last": (lambda u: _move(u, ts=EARLY), "events_ts_order"),
    "a false prev_ts": (lambda u: _move(u, columns={"prev_ts": EARLY}), "events_chain"),
    "no prev_ts": (lambda u: _move(u, columns={"prev_ts": None}), "events_ts_order"),
    "a duplicate id": (lambda u: _move(u, id=_first(u, "id")), "events_id"),
    "an edited line": (lambda u: _move(u).replace('"amount":"1"', '"amount":"9"'), "events_hash"),
    "a key in the line, none in its column": (lambda u: _move(u, key="k", columns={"key": None}), "events_columns"),
    "a seq column that is not the line's": (lambda u: _move(u, columns={"seq": 4}), "events_c"),  # chain or columns
    "an update of a line": (lambda u: f"UPDATE {schema_of(u)}.events SET line = line WHERE seq = 1", "append-only"),
    "a delete": (lambda u: f"DELETE FROM {schema_of(u)}.events WHERE seq = 2", "append-only"),
    "a truncate": (lambda u: f"TRUNCATE {schema_of(u)}.events", "append-only"),
}


@pytest.mark.parametrize("attempt", list(REFUSALS))
def test_the_database_refuses_what_breaks_the_chain_with_the_client_bypassed(pg_uri: str, attempt: str) -> None:
    for amount in ("10", "20"):
        assert ledger(pg_uri, "deposit", "a", amount).returncode == 0
    s = schema_of(pg_uri)
    before = sql(pg_uri, f"SELECT seq, line FROM {s}.events ORDER BY seq")
    build, check = REFUSALS[attempt]
    statement = build(pg_uri)
    with pytest.raises(Exception, match="refused") as refused:
        sql(pg_uri, statement)
    assert check in str(refused.value), str(refused.value)
    assert sql(pg_uri, f"SELECT seq, line FROM {s}.events ORDER BY seq") == before
    assert ledger(pg_uri, "verify").returncode == 0


def test_a_well_formed_row_is_taken_by_the_database(pg_uri: str) -> None:
    """The control for the refusals above: their rows differ from this one only where named."""
    for amount in ("10", "20"):
        assert ledger(pg_uri, "deposit", "a", amount).returncode == 0
    sql(pg_uri, _move(pg_uri))
    assert len(sql(pg_uri, f"SELECT seq FROM {schema_of(pg_uri)}.events")) == 3


def test_a_duplicate_key_or_second_reversal_is_refused_by_the_database(pg_uri: str) -> None:
    assert ledger(pg_uri, "deposit", "a", "10", "-k", "once").returncode == 0
    assert ledger(pg_uri, "deposit", "a", "5").returncode == 0
    assert ledger(pg_uri, "reverse", "2").returncode == 0
    sql(pg_uri, next_row(pg_uri, account="a", amount="1"))  # the control: a well-formed row is taken
    duplicate_key = next_row(pg_uri, account="a", amount="1", key="once")
    with pytest.raises(Exception, match="the store refused an event: .*events_key"):
        sql(pg_uri, duplicate_key)
    second = next_row(pg_uri, "reversed", account="a", amount="5", target=2)
    with pytest.raises(Exception, match="the store refused an event: .*events_target"):
        sql(pg_uri, second)
    verify = ledger(pg_uri, "verify")  # the control row went round the head row: verify says so
    assert verify.returncode == 3 and "the head row says seq 3" in verify.stdout + verify.stderr


def test_ten_racing_withdrawals_of_60_from_100_exactly_one_wins(pg_uri: str) -> None:
    assert ledger(pg_uri, "deposit", "acct", "100").returncode == 0
    with ThreadPoolExecutor(10) as pool:
        done = list(pool.map(lambda _: ledger(pg_uri, "withdraw", "acct", "60"), range(10)))
    codes = sorted(d.returncode for d in done)
    assert codes == [0] + [1] * 9, [d.stderr for d in done]
    assert ledger(pg_uri, "balance").stdout == "acct\t40\n"
    assert ledger(pg_uri, "verify").returncode == 0


def test_eight_processes_of_deposits_and_withdrawals_give_exact_totals_and_no_gap(pg_uri: str) -> None:
    assert ledger(pg_uri, "deposit", "pool", "50").returncode == 0
    script = "\n".join(
        '"$L" deposit pool 1.5 >/dev/null; "$L" withdraw pool 2 >/dev/null 2>&1 || echo refused' for _ in range(10)
    )

    def worker(_: int) -> int:
        out = subprocess.run(
            ["bash", "-c", script],
            env={**os.environ, "L": str(Path(sys.executable).parent / "ledger"), "LEDGER_CLI_FILE": pg_uri},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.count("refused")

    with ThreadPoolExecutor(8) as pool:
        refused = sum(pool.map(worker, range(8)))
    withdrawn = 80 - refused
    expected = Decimal("50") + Decimal("1.5") * 80 - 2 * withdrawn
    assert ledger(pg_uri, "balance").stdout == f"pool\t{expected}\n"
    s = schema_of(pg_uri)
    seqs = [row[0] for row in sql(pg_uri, f"SELECT seq FROM {s}.events ORDER BY seq")]
    assert seqs == list(range(1, 1 + 1 + 80 + withdrawn))
    assert ledger(pg_uri, "verify").returncode == 0
    assert ledger(pg_uri, "balance", "--no-cache").stdout == f"pool\t{expected}\n"


def test_two_machines_share_the_books_each_with_its_own_copy(pg_uri: str, tmp_path: Path) -> None:
    one, two = {"XDG_CACHE_HOME": str(tmp_path / "one")}, {"XDG_CACHE_HOME": str(tmp_path / "two")}
    assert ledger(pg_uri, "deposit", "a", "10", env=one).returncode == 0
    assert ledger(pg_uri, "deposit", "a", "5", env=two).returncode == 0
    assert ledger(pg_uri, "withdraw", "a", "15", env=one).returncode == 0
    for env in (one, two):
        assert ledger(pg_uri, "balance", env=env).stdout == "a\t0\n"
    copies = list((tmp_path / "one").rglob("*.jsonl")) + list((tmp_path / "two").rglob("*.jsonl"))
    assert len(copies) == 2 and copies[0].read_bytes() == copies[1].read_bytes()


def test_a_copy_that_no_longer_matches_the_database_is_made_again(pg_server: str, tmp_path: Path) -> None:
    """A store dropped and created again under the same name is another store (a new id); a
    copy whose last event the database lost (restored from an older dump) is refetched."""
    uri = with_schema(pg_server)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    for amount in ("10", "20", "30"):
        assert ledger(uri, "deposit", "a", amount, env=env).returncode == 0
    s = schema_of(uri)
    sql(uri, f"ALTER TABLE {s}.events DISABLE TRIGGER USER; ALTER TABLE {s}.events DROP CONSTRAINT events_chain;"
        f"DELETE FROM {s}.events WHERE seq = 3; UPDATE {s}.head SET seq = 2, hash = (SELECT hash FROM {s}.events "
        f"WHERE seq = 2); ALTER TABLE {s}.events ENABLE TRIGGER USER")  # fmt: skip
    done = ledger(uri, "balance", env=env)
    assert done.returncode == 0 and done.stdout == "a\t30\n"
    assert "made again" in done.stderr


def test_an_import_of_6000_records_is_one_transaction_and_the_same_books_as_on_a_file(
    pg_uri: str, tmp_path: Path
) -> None:
    """More than a MiB of lines: the batch is spooled and goes in by COPY, cut anywhere."""
    records = tmp_path / "records.jsonl"
    rows = [{"type": "deposit", "account": f"a:{i % 13}", "amount": f"{i}.25", "memo": "x" * 150, "key": f"k{i}"}
            for i in range(6000)]  # fmt: skip
    records.write_text("".join(json.dumps(row) + "\n" for row in rows))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(records.read_text() + '{"type":"withdraw","account":"a:1","amount":"1000000000"}\n')
    refused = ledger(pg_uri, "import", str(bad))
    assert refused.returncode == 1 and "line 6001" in refused.stderr
    tables = f"SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = '{schema_of(pg_uri)}'"
    assert sql(pg_uri, tables) == [(0,)]  # the refused first write did not even leave the store behind
    file = str(tmp_path / "books.jsonl")
    for where in (pg_uri, file):
        assert ledger(where, "import", str(records)).returncode == 0
    assert ledger(pg_uri, "balance").stdout == ledger(file, "balance").stdout
    again = ledger(pg_uri, "import", str(records))  # every key recorded: nothing new
    assert again.returncode == 0 and sql(pg_uri, f"SELECT max(seq) FROM {schema_of(pg_uri)}.events") == [(6000,)]
    assert ledger(pg_uri, "verify").returncode == 0
    assert ledger(pg_uri, "balance", "--no-cache").stdout == ledger(file, "balance").stdout


def test_every_machine_dates_the_books_in_the_zone_they_were_created_in(pg_uri: str) -> None:
    """The books' zone (TZ when the store was created) gives the default dates, and the days of
    --until/--as-of, on every machine: Kiritimati (UTC+14) and Pago Pago (UTC-11) are never on
    the same day, and a writer in either dates the books the same."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    east, west = {"TZ": "Pacific/Kiritimati"}, {"TZ": "Pacific/Pago_Pago"}
    assert ledger(pg_uri, "deposit", "a", "10", env=east).returncode == 0  # the store is created here
    assert ledger(pg_uri, "deposit", "a", "5", env=west).returncode == 0
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    dates = [
        json.loads(line)["date"] for line in ledger(pg_uri, "history", "--format", "jsonl", env=west).stdout.split()
    ]
    assert dates == [today, today]
    for read in (("balance", "--as-of", today), ("history", "--until", today), ("accounts",)):
        assert ledger(pg_uri, *read, env=east).stdout == ledger(pg_uri, *read, env=west).stdout, read


def test_a_chain_edited_and_hashed_again_is_named_by_every_machine_that_read_it(pg_uri: str, tmp_path: Path) -> None:
    """A superuser who edits a line, hashes the chain again from there, moves the head row and
    puts every check and trigger back leaves a store that verifies by itself; the machines that
    read it before still hold what it said, so their verify and --no-cache reads name the seq,
    and a statement kept from before (verify --against) fails on any machine."""
    from tests.helpers_log import rehash_from

    for amount in ("10", "20", "30"):
        assert ledger(pg_uri, "deposit", "a", amount).returncode == 0
    kept = tmp_path / "kept.json"
    kept.write_text(ledger(pg_uri, "replay", "--json").stdout)
    s = schema_of(pg_uri)
    lines = [str(row[0]).encode() + b"\n" for row in sql(pg_uri, f"SELECT line FROM {s}.events ORDER BY seq")]
    lines[1] = lines[1].replace(b'"amount":"20"', b'"amount":"25"')
    forged = rehash_from(lines, 1)
    values = ", ".join(
        f"({seq}, '{line.decode().rstrip()}', '{json.loads(line)['hash']}', '{json.loads(line)['prev']}')"
        for seq, line in enumerate(forged, start=1)
        if seq >= 2
    )
    sql(
        pg_uri,
        f"ALTER TABLE {s}.events DISABLE TRIGGER USER; UPDATE {s}.events e SET line = v.line, hash = v.hash, "
        f"prev = v.prev FROM (VALUES {values}) AS v(seq, line, hash, prev) "
        f"WHERE e.seq = v.seq; UPDATE {s}.head SET hash = (SELECT hash FROM {s}.events WHERE seq = 3); "
        f"ALTER TABLE {s}.events ENABLE TRIGGER USER",
    )
    here = ledger(pg_uri, "verify")
    assert here.returncode == 3 and "line 2" in here.stderr and "changed since" in here.stderr, here.stderr
    direct = ledger(pg_uri, "balance", "--no-cache")
    assert direct.returncode == 3 and "line 2" in direct.stderr
    elsewhere = {"XDG_CACHE_HOME": str(tmp_path / "another-machine")}
    assert ledger(pg_uri, "verify", env=elsewhere).returncode == 0  # by itself it is a sound chain
    against = ledger(pg_uri, "verify", "--against", str(kept), env=elsewhere)
    assert against.returncode == 3, against.stderr


def test_a_store_filled_by_its_first_write_checks_the_whole_chain_at_once_and_keeps_the_key(pg_uri: str) -> None:
    """A new store's first batch goes in without the chain's foreign key, which is added (and
    so checked against every row by one join) before COMMIT: a batch whose chain breaks is
    refused whole, and a batch that holds leaves the key in force for every later row."""
    from ledger_cli.domain import State
    from ledger_cli.errors import StoreError
    from tests.helpers_log import seal as seal_fields

    def line(seq: int, prev: str) -> bytes:
        return seal_fields({"type": "deposited", "seq": seq, "id": uuid7(), "ts": "2026-01-01T00:00:00.000000Z",
                            "prev": prev, "account": "a", "amount": "1", "date": "2026-01-01", "v": 2})  # fmt: skip

    first = line(1, "0" * 64)
    broken = [first, line(2, "f" * 64)]  # each line sound by itself (hash, columns), the link wrong
    with pytest.raises(StoreError, match="events_chain"):
        with PgLog(pg_uri).writing() as session:
            session.append_sealed(iter(broken), State())
    tables = f"SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = '{schema_of(pg_uri)}'"
    assert sql(pg_uri, tables) == [(0,)]  # refused whole: not even the store is left
    records = "".join(json.dumps({"type": "deposit", "account": "a", "amount": "1"}) + "\n" for _ in range(300))
    done = subprocess.run([str(Path(sys.executable).parent / "ledger"), "import", "-q", "-"], input=records,
                          env={**os.environ, "LEDGER_CLI_FILE": pg_uri}, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    s = schema_of(pg_uri)
    assert sql(pg_uri, f"SELECT convalidated FROM pg_constraint WHERE conname = 'events_chain' "
                       f"AND conrelid = '{s}.events'::regclass") == [(True,)]  # fmt: skip
    with pytest.raises(Exception, match="events_chain"):
        sql(pg_uri, _move(pg_uri, prev="f" * 64))
    assert ledger(pg_uri, "verify").returncode == 0


def test_a_clerk_with_the_documented_grants_writes_and_reads_but_cannot_touch_the_checks(pg_uri: str) -> None:
    """README, Roles: SELECT and INSERT on events, SELECT and UPDATE on head, SELECT on meta."""
    import re

    assert ledger(pg_uri, "deposit", "a", "10").returncode == 0  # the owner creates the store
    s = schema_of(pg_uri)
    role = f"clerk_{s}"
    sql(pg_uri, f"CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {s} TO {role}; "
                f"GRANT SELECT, INSERT ON {s}.events TO {role}; GRANT SELECT, UPDATE ON {s}.head TO {role}; "
                f"GRANT SELECT ON {s}.meta TO {role}")  # fmt: skip
    clerk = re.sub(r"user=[^&]*", f"user={role}", pg_uri) if "user=" in pg_uri else f"{pg_uri}&user={role}"
    try:
        for args in (("deposit", "a", "5"), ("withdraw", "a", "3"), ("transfer", "a", "b", "2")):
            done = ledger(clerk, *args)
            assert done.returncode == 0, done.stderr
        assert ledger(clerk, "balance").stdout == "a\t10\nb\t2\n"
        assert ledger(clerk, "verify").returncode == 0
        for attempt in (f"UPDATE {s}.events SET line = line", f"DELETE FROM {s}.events",
                        f"ALTER TABLE {s}.events DISABLE TRIGGER events_append_only",
                        f"ALTER TABLE {s}.events DROP CONSTRAINT events_hash", f"TRUNCATE {s}.events"):  # fmt: skip
            with pytest.raises(Exception, match="refused"):
                sql(clerk, attempt)
        assert ledger(pg_uri, "verify").returncode == 0
    finally:
        sql(pg_uri, f"DROP OWNED BY {role}; DROP ROLE {role}")
