"""Many `ledger` processes at once, and a lock held from outside (issue 3).

Every test runs the installed console script as separate processes on a private log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import run_installed
from tests.helpers_log import (
    GENESIS,
    assert_chain,
    balances,
    env_for,
    events,
    lock_is_held,
    ok,
    seal,
    spawn,
    verify_json,
    wait_until,
)

WORKERS = 8
DEPOSITS_EACH = 25
SEEDED = 60  # events already there: with the 200 new ones, folds pass the head-checkpoint refresh (256)


def _amount(worker: int, i: int) -> str:
    return f"{worker + 1}.{i:02d}"  # distinct cents, so a lost or doubled deposit changes the total


def _seed(log: Path) -> dict[str, Decimal]:
    """SEEDED deposits written straight into the log, sealed per contract section 2."""
    prev, data, amounts = GENESIS, b"", {}
    for seq in range(1, SEEDED + 1):
        fields = {"v": 1, "seq": seq, "id": f"00000000-0000-7000-8000-{seq:012d}", "type": "deposited",
                  "ts": f"2025-01-01T00:00:{seq:02d}.000000Z", "prev": prev, "account": "acct0",
                  "amount": f"0.{seq:03d}", "memo": f"seed-{seq}"}  # fmt: skip
        line = seal(fields)
        prev, data = json.loads(line)["hash"], data + line
        amounts[fields["memo"]] = Decimal(fields["amount"])
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(data)
    return amounts


def test_eight_processes_depositing_at_once_lose_no_acknowledged_deposit_and_keep_seq_gapless(log: Path) -> None:
    seeded = _seed(log)
    acknowledged: dict[str, Decimal] = {}
    failures: list[tuple[str, int, str]] = []
    reads: list[tuple[int, str]] = []
    lock = threading.Lock()
    done = threading.Event()

    def worker(number: int) -> None:
        for i in range(DEPOSITS_EACH):
            memo = f"w{number}-d{i}"
            result = run_installed(["deposit", f"acct{number % 3}", _amount(number, i), "-m", memo], log)
            with lock:
                if result.returncode == 0:
                    acknowledged[memo] = Decimal(_amount(number, i))
                else:
                    failures.append((memo, result.returncode, result.stderr))

    def reader() -> None:  # readers take no lock and must always see a whole, verified prefix
        while not done.is_set():
            result = run_installed(["balance", "--json"], log)
            reads.append((result.returncode, result.stdout if result.returncode == 0 else result.stderr))

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(worker, range(WORKERS)))
    finally:
        done.set()
        watcher.join()

    assert failures == []
    assert len(acknowledged) == WORKERS * DEPOSITS_EACH
    rows = events(log)
    assert_chain(rows)
    assert {row["memo"]: Decimal(row["amount"]) for row in rows} == {**seeded, **acknowledged}
    assert len(rows) == SEEDED + len(acknowledged)
    assert sum(balances(log).values()) == sum(seeded.values()) + sum(acknowledged.values())
    assert verify_json(log)["events"] == len(rows)

    # Each concurrent read was the exact books after some prefix of the final log.
    totals_after = [Decimal(0)]
    for row in rows:
        totals_after.append(totals_after[-1] + Decimal(row["amount"]))
    assert reads, "the reader never ran"
    for code, output in reads:
        assert code == 0, output
        report = json.loads(output)
        assert Decimal(report["total"]) == totals_after[report["seq"]]


def test_ten_concurrent_withdrawals_of_60_from_100_let_exactly_one_through(log: Path) -> None:
    ok(log, "deposit", "acct", "100")
    racers = [spawn(log, "withdraw", "acct", "60", "-m", f"racer {i}") for i in range(10)]
    outcomes = [(racer.wait(timeout=60), *racer.communicate()) for racer in racers]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0] + [1] * 9, outcomes
    for code, _, stderr in outcomes:
        if code == 1:
            assert "40" in stderr  # the refusal says how much the account has
            assert "Traceback" not in stderr
    assert balances(log) == {"acct": Decimal(40)}
    assert [row["type"] for row in events(log)] == ["deposited", "withdrawn"]
    verify_json(log)


def test_twelve_concurrent_retries_with_one_idempotency_key_record_one_event(log: Path) -> None:
    ok(log, "deposit", "other", "1")
    retries = [spawn(log, "deposit", "acct", "25.50", "-m", "rent", "-k", "invoice-42") for _ in range(12)]
    outcomes = [(retry.wait(timeout=60), *retry.communicate()) for retry in retries]
    assert [code for code, _, _ in outcomes] == [0] * 12, outcomes
    keyed = [row for row in events(log) if row.get("key") == "invoice-42"]
    assert len(keyed) == 1
    assert all("seq 2" in stdout for _, stdout, _ in outcomes), outcomes  # each reports the one event
    assert balances(log) == {"acct": Decimal("25.50"), "other": Decimal(1)}
    assert verify_json(log)["events"] == 2


_PY_HOLDER = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "time.sleep(30)\n"
)


@pytest.mark.parametrize("holder", ["flock(1)", "python fcntl.flock"])
def test_writer_exits_4_when_the_lock_is_held_past_the_timeout_and_readers_still_work(log: Path, holder: str) -> None:
    ok(log, "deposit", "acct", "100")
    ok(log, "deposit", "savings", "5")
    lock = log.with_name(log.name + ".lock")
    before = log.read_bytes()
    if holder == "flock(1)":
        command = ["flock", str(lock), "sleep", "30"]
    else:
        command = [sys.executable, "-c", _PY_HOLDER, str(lock)]
    # Its own session, so the holder and its `sleep` child are ended together by process group.
    holding = subprocess.Popen(command, start_new_session=True, env=env_for(log))
    try:
        wait_until(lambda: lock_is_held(lock), what="the outside holder to take the lock")
        timeout = {"LEDGER_CLI_LOCK_TIMEOUT": "0.5"}
        for args in (
            ["deposit", "acct", "1"],
            ["withdraw", "acct", "1"],
            ["transfer", "acct", "savings", "1"],
            ["open", "newacct"],
            ["deposit", "acct", "1", "-k", "retry-me"],
        ):
            result = run_installed(args, log, env=timeout)
            assert result.returncode == 4, (args, result.returncode, result.stderr)
            assert "lock" in result.stderr.lower()
            assert result.stdout == ""
            assert log.read_bytes() == before
        for args in (["balance"], ["history"], ["accounts"], ["replay"], ["verify"]):
            result = run_installed(args, log)
            assert result.returncode == 0, (args, result.stderr)
        assert balances(log) == {"acct": Decimal(100), "savings": Decimal(5)}
        assert lock_is_held(lock), "the holder let go early: the refusals above proved nothing"
    finally:
        os.killpg(holding.pid, signal.SIGKILL)
        holding.wait(timeout=10)
    assert run_installed(["deposit", "acct", "1"], log, env={"LEDGER_CLI_LOCK_TIMEOUT": "5"}).returncode == 0
    assert balances(log)["acct"] == Decimal(101)
    assert verify_json(log)["events"] == 3
