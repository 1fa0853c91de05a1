"""Crashes on PostgreSQL (contract section 8): kill -9 of a writer holding the head row, and
`pg_ctl restart -m immediate` under four keyed write loops. No acknowledged event is lost, none
is written twice (a retry by key records nothing new), and the store takes writes afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ledger_cli.pgdriver import Connection
from tests.conftest import run_installed
from tests.pgcluster import Cluster, with_schema
from tests.test_pg_cli import sql

LEDGER = str(Path(sys.executable).parent / "ledger")


def blocked_writer(uri: str) -> int | None:
    """The backend pid of a ledger writer waiting for a row lock inside its transaction."""
    found = sql(
        uri,
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'ledger-cli' AND wait_event_type = 'Lock'",
    )
    return int(found[0][0]) if found else None  # type: ignore[call-overload]


def test_kill_9_of_writers_holding_the_head_row_loses_no_acknowledged_event(pg_uri: str) -> None:
    """Each writer is caught for certain while it holds the head row: the test has inserted, and
    not committed, the very row the writer's INSERT must wait for (the next seq, its key), so the
    writer sits locked inside its transaction until it is killed."""
    from tests.test_pg_cli import next_row

    assert run_installed(["deposit", "acct", "100"], pg_uri).returncode == 0  # type: ignore[arg-type]
    schema = sql(pg_uri, "SELECT current_schemas(false)")[0][0][0]  # type: ignore[index]
    env = {**os.environ, "LEDGER_CLI_FILE": pg_uri}
    for round_ in range(4):
        blocker = Connection(pg_uri)
        try:
            blocker.run("BEGIN")
            blocker.run(next_row(pg_uri, account="acct", amount="1", key=f"r{round_}"))
            writer = subprocess.Popen(
                [LEDGER, "deposit", "acct", "1", "-k", f"r{round_}"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 60
            while blocked_writer(pg_uri) is None and writer.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert blocked_writer(pg_uri) is not None and writer.poll() is None  # it waits, holding the head row
            writer.kill()
            writer.communicate(timeout=30)
        finally:
            blocker.run("ROLLBACK")
            blocker.close()
        done = run_installed(["deposit", "acct", "1"], pg_uri, env={"LEDGER_CLI_LOCK_TIMEOUT": "20"})  # type: ignore[arg-type]
        assert done.returncode == 0, done.stderr  # the head row went with the killed writer's connection
    keys = sql(pg_uri, f"SELECT count(*) FROM {schema}.events WHERE key LIKE 'r%'")
    assert keys == [(0,)]  # nothing of a killed writer was recorded
    seqs = [int(r[0]) for r in sql(pg_uri, f"SELECT seq FROM {schema}.events ORDER BY seq")]  # type: ignore[call-overload]
    assert seqs == list(range(1, 6))  # 1 + one deposit after each kill, no gap
    assert run_installed(["verify"], pg_uri).returncode == 0  # type: ignore[arg-type]


def test_an_immediate_server_restart_under_four_keyed_write_loops_loses_nothing_and_writes_nothing_twice(
    tmp_path: Path,
) -> None:
    cluster = Cluster()  # its own: this test restarts it
    try:
        uri = with_schema(cluster.base)
        env = {**os.environ, "LEDGER_CLI_FILE": uri, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        assert subprocess.run([LEDGER, "deposit", "acct", "1"], env=env, capture_output=True).returncode == 0
        per_writer = 30
        failures: list[str] = []
        acknowledged: list[str] = []

        def loop(n: int) -> None:
            for i in range(per_writer):
                key = f"w{n}-{i}"
                for _ in range(200):  # retry by key until the store says recorded (or already was)
                    done = subprocess.run(
                        [LEDGER, "deposit", "acct", "1", "-k", key],
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=120,
                    )
                    if done.returncode == 0:
                        acknowledged.append(key)
                        break
                    if done.returncode != 3 or "Traceback" in done.stderr or len(done.stderr.splitlines()) != 1:
                        failures.append(done.stderr)
                        return
                    time.sleep(0.1)

        threads = [threading.Thread(target=loop, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for _ in range(2):
            time.sleep(1.5)
            cluster.restart_immediately()
        for thread in threads:
            thread.join(300)
        assert not failures, failures[:3]
        assert len(acknowledged) == 4 * per_writer
        schema = uri.rsplit("%3D", 1)[1]
        stored = sql(uri, f"SELECT key, count(*) FROM {schema}.events WHERE key IS NOT NULL GROUP BY key")
        assert sorted(str(k) for k, _ in stored) == sorted(acknowledged)
        assert all(count == 1 for _, count in stored)  # nothing written twice
        total = sql(uri, f"SELECT count(*), max(seq) FROM {schema}.events")[0]
        assert total == (1 + 4 * per_writer, 1 + 4 * per_writer)  # no gap
        check = subprocess.run([LEDGER, "verify"], env=env, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        after = subprocess.run([LEDGER, "deposit", "acct", "1"], env=env, capture_output=True, text=True)
        assert after.returncode == 0, after.stderr
    finally:
        cluster.stop()


def test_ctrl_c_while_waiting_for_the_head_row_records_nothing(pg_uri: str) -> None:
    assert run_installed(["deposit", "acct", "5"], pg_uri).returncode == 0  # type: ignore[arg-type]
    schema = sql(pg_uri, "SELECT current_schemas(false)")[0][0][0]  # type: ignore[index]
    holder = Connection(pg_uri)
    try:
        holder.run("BEGIN")
        holder.run(f"SELECT * FROM {schema}.head FOR UPDATE")
        writer = subprocess.Popen(
            [LEDGER, "deposit", "acct", "1"],
            # a wait far longer than the test's: the Ctrl-C must end it, not the timeout
            env={**os.environ, "LEDGER_CLI_FILE": pg_uri, "LEDGER_CLI_LOCK_TIMEOUT": "600"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        time.sleep(1.0)
        writer.send_signal(signal.SIGINT)
        _, err = writer.communicate(timeout=30)
    finally:
        holder.close()
    assert writer.returncode == 130 and b"nothing was recorded" in err
    assert sql(pg_uri, f"SELECT count(*) FROM {schema}.events") == [(1,)]


def test_ctrl_c_during_a_streamed_import_records_nothing(pg_uri: str, tmp_path: Path) -> None:
    """An import streams its records into COPY as it decides them: a Ctrl-C while that COPY
    runs undoes the whole batch, exit 130, and the store takes the same import afterwards."""
    import json

    from tests.helpers_log import wait_until

    assert run_installed(["deposit", "acct", "5"], pg_uri).returncode == 0  # type: ignore[arg-type]
    schema = sql(pg_uri, "SELECT current_schemas(false)")[0][0][0]  # type: ignore[index]
    records = tmp_path / "records.jsonl"
    rows = ({"type": "deposit", "account": "acct", "amount": "1", "key": f"k{n}"} for n in range(50_000))
    records.write_text("".join(json.dumps(row) + "\n" for row in rows))
    writer = subprocess.Popen(
        [LEDGER, "import", "-q", str(records)],
        env={**os.environ, "LEDGER_CLI_FILE": pg_uri},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    copying = "SELECT 1 FROM pg_stat_activity WHERE application_name = 'ledger-cli' AND query LIKE 'COPY%'"
    wait_until(lambda: bool(sql(pg_uri, copying)), what="the import's COPY under way")
    writer.send_signal(signal.SIGINT)
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 130 and b"nothing was recorded" in err, err
    assert sql(pg_uri, f"SELECT count(*) FROM {schema}.events") == [(1,)]
    again = run_installed(["import", "-q", str(records)], pg_uri)  # type: ignore[arg-type]
    assert again.returncode == 0, again.stderr
    assert run_installed(["balance"], pg_uri).stdout == "acct\t50005\n"  # type: ignore[arg-type]
