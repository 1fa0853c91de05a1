"""Crashes and refused writes: kill -9, torn last lines, a file-size limit (issue 3)."""

from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli.config import ledger_at
from tests.conftest import Runner, run_installed
from tests.helpers_log import LEDGER, assert_chain, balances, env_for, events, ok, spawn, verify_json

ROUNDS = 8
WRITERS_PER_ROUND = 8
MEMO = "café ✓ 東京"  # multi-byte UTF-8, so some cuts fall inside a character


def _torn(log: Path) -> Path:
    return log.with_name(log.name + ".torn")


def _forget_derived(log: Path) -> None:
    shutil.rmtree(log.with_name(log.name + ".cache"), ignore_errors=True)
    _torn(log).unlink(missing_ok=True)


def test_kill_9_at_random_moments_loses_no_acknowledged_event_and_the_log_takes_writes(log: Path) -> None:
    seed = time.time_ns()
    chance = random.Random(seed)
    ok(log, "deposit", "acct", "1", "-m", "before", "-k", "before")
    acknowledged: dict[str, Decimal] = {"before": Decimal(1)}
    killed: dict[str, Decimal] = {}
    for round_ in range(ROUNDS):
        writers = {}
        for i in range(WRITERS_PER_ROUND):
            name = f"r{round_}-w{i}"
            amount = f"{i + 1}.{round_:02d}"
            writers[name] = (amount, spawn(log, "deposit", "acct", amount, "-m", name, "-k", name))
        # Each writer gets its own random moment (start-up, waiting for the lock, writing, exiting);
        # one in five is left alone to finish.
        started = time.monotonic()
        doomed = [(chance.uniform(0.0, 0.6), writer) for _, writer in writers.values() if chance.random() < 0.8]
        for moment, writer in sorted(doomed, key=lambda pair: pair[0]):
            time.sleep(max(0.0, started + moment - time.monotonic()))
            writer.kill()  # SIGKILL; a no-op if it already exited
        for name, (amount, writer) in writers.items():
            out, err = writer.communicate(timeout=60)
            if writer.returncode == 0:
                assert "seq " in out, (name, out)
                acknowledged[name] = Decimal(amount)
            else:
                assert writer.returncode == -9, (name, writer.returncode, err)  # only our kill stops one
                killed[name] = Decimal(amount)
        reads = run_installed(["balance", "--json"], log)  # reads work after every round
        assert reads.returncode == 0, (seed, reads.stderr)
        recorded = {row["memo"] for row in events(log)}
        assert set(acknowledged) <= recorded, (seed, set(acknowledged) - recorded)
    assert killed, f"no writer was killed (seed {seed}): the test proved nothing"

    landed = {row["memo"] for row in events(log)} & set(killed)  # killed after the write, before the report
    print(
        f"kill -9 loop: seed {seed}, {len(acknowledged) - 1} acknowledged, {len(killed)} killed, "
        f"{len(landed)} of those recorded"
    )

    # Retrying every killed command with its key records each at most once, whatever the kill hit.
    for name, amount in killed.items():
        ok(log, "deposit", "acct", str(amount), "-m", name, "-k", name)
    ok(log, "deposit", "acct", "1", "-m", "after", "-k", "after")
    rows = events(log)
    assert_chain(rows)
    memos = [row["memo"] for row in rows]
    assert sorted(memos) == sorted([*acknowledged, *killed, "after"]), seed
    assert sum(balances(log).values()) == sum(acknowledged.values()) + sum(killed.values()) + 1
    assert verify_json(log)["events"] == len(rows)


def _four_events(ledger: Runner) -> tuple[bytes, bytes]:
    """A log of four events: the bytes of the first three lines, and the whole fourth line."""
    for args in (("deposit", "acct", "100"), ("withdraw", "acct", "30"), ("transfer", "acct", "savings", "20")):
        assert ledger(*args).code == 0
    assert ledger("deposit", "acct", "7.25", "-m", MEMO, "-k", "the-fourth").code == 0
    data = ledger.log.read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n") + 1
    return data[:cut], data[cut:]


def _assert_torn_tail_is_survivable(ledger: Runner, prefix: bytes, tail: bytes, fragment: bytes) -> None:
    """Reads ignore `tail` with a warning; the next write moves it to <log>.torn and appends."""
    log = ledger.log
    _forget_derived(log)
    log.write_bytes(prefix + tail)
    read = ledger("balance", "--json")
    assert read.code == 0, (len(fragment), read.stderr)
    assert "warning" in read.stderr, len(fragment)
    assert json.loads(read.stdout)["seq"] == 3
    assert {row["account"]: Decimal(row["balance"]) for row in json.loads(read.stdout)["accounts"]} == {
        "acct": Decimal(50), "savings": Decimal(20)
    }  # fmt: skip
    assert log.read_bytes() == prefix + tail  # a read never changes the log
    write = ledger("deposit", "acct", "1", "-m", "after the crash")
    assert write.code == 0, (len(fragment), write.stderr)
    assert _torn(log).read_bytes() in (tail, tail + b"\n"), len(fragment)  # the bytes, kept aside
    data = log.read_bytes()
    assert data.startswith(prefix)  # nothing acknowledged is lost
    lines = data[len(prefix) :].split(b"\n")
    assert lines[1:] == [b""] and json.loads(lines[0])["seq"] == 4
    report = ledger_at(log, use_cache=False).verify()
    assert report.ok and report.events == 4, (len(fragment), report.problems)


def test_torn_last_line_cut_at_every_byte_is_ignored_by_reads_and_quarantined_by_the_next_write(ledger: Runner) -> None:
    prefix, line = _four_events(ledger)
    assert line.endswith(b"\n")
    for cut in range(1, len(line)):  # every fragment of the line, up to all of it but its newline
        fragment = line[:cut]
        _assert_torn_tail_is_survivable(ledger, prefix, fragment, fragment)


@pytest.mark.parametrize("shape", ["nul-block", "fragment-then-nuls", "nuls-then-fragment"])
def test_nul_padded_tail_is_ignored_by_reads_and_quarantined_by_the_next_write(ledger: Runner, shape: str) -> None:
    prefix, line = _four_events(ledger)
    fragment = line[:57]
    tail = {
        "nul-block": b"\0" * 4096,
        "fragment-then-nuls": fragment + b"\0" * 512,
        "nuls-then-fragment": b"\0" * 100 + fragment,
    }[shape]
    _assert_torn_tail_is_survivable(ledger, prefix, tail, fragment)


@pytest.mark.parametrize("cut", [1, 2, 40, 150, -2, -1])
def test_torn_tail_via_installed_command_reads_warn_then_next_write_quarantines(log: Path, cut: int) -> None:
    ok(log, "deposit", "acct", "100")
    ok(log, "withdraw", "acct", "30", "-m", MEMO)
    ok(log, "deposit", "acct", "5", "-k", "acked")
    data = log.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    prefix, line = data[:start], data[start:]
    fragment = line[:cut] if cut > 0 else line[: len(line) + cut - 1]  # -1: the whole line but its newline
    log.write_bytes(prefix + fragment)
    for args in (["balance"], ["history"], ["accounts"], ["replay"], ["balance", "--no-cache"]):
        read = run_installed(args, log)
        assert read.returncode == 0, (args, read.stderr)
        assert "warning" in read.stderr and "Traceback" not in read.stderr
    assert balances(log) == {"acct": Decimal(70)}
    assert log.read_bytes() == prefix + fragment
    ok(log, "deposit", "acct", "5", "-k", "acked")  # the retry of the torn, unacknowledged write
    assert _torn(log).read_bytes() in (fragment, fragment + b"\n")
    assert log.read_bytes().startswith(prefix)
    assert balances(log) == {"acct": Decimal(75)}
    rows = events(log)
    assert_chain(rows)
    assert [row.get("key") for row in rows] == [None, None, "acked"]
    assert verify_json(log)["events"] == 3


def _limit_file_size(limit: int) -> Callable[[], None]:
    """A preexec_fn that caps the size of any file the child writes (RLIMIT_FSIZE, as `ulimit -f`)."""

    def apply() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    return apply


@pytest.mark.parametrize("room", [0, 5, 120])
def test_write_refused_part_way_by_file_size_limit_exits_3_and_leaves_the_log_unchanged(log: Path, room: int) -> None:
    ok(log, "deposit", "acct", "100")
    ok(log, "withdraw", "acct", "10", "-m", MEMO)
    before = log.read_bytes()
    limit = _limit_file_size(len(before) + room)  # room for a few bytes of the new line, never all of it
    for args in (
        ["deposit", "acct", "1", "-m", "x" * 200],
        ["transfer", "acct", "savings", "1"],
        ["withdraw", "acct", "1", "-k", "efbig"],
    ):
        result = _run_limited(log, args, limit)
        assert result.returncode == 3, (args, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr and "error" in result.stderr
        assert result.stdout == ""
        assert log.read_bytes() == before
    assert not _torn(log).exists()
    ok(log, "withdraw", "acct", "1", "-k", "efbig")  # without the limit, the next write works
    assert balances(log) == {"acct": Decimal(89)}
    rows = events(log)
    assert_chain(rows)
    assert len(rows) == 3
    assert verify_json(log)["events"] == 3


def _run_limited(log: Path, args: list[str], limit: Callable[[], None]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGER, *args], env=env_for(log), capture_output=True, text=True, timeout=60, preexec_fn=limit
    )
