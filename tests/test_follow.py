"""`ledger history --follow` on both stores (contract section 8): the events there are, then each
new one as it is appended, from 4 concurrent writers, exactly once and in order; Ctrl-C is exit
130 with every printed line whole."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import run_installed

LEDGER = str(Path(sys.executable).parent / "ledger")


@pytest.fixture(params=["file", "postgres"])
def books(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / "books.jsonl")
    return str(request.getfixturevalue("pg_uri"))


def follower(books: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [LEDGER, "history", "--follow", *args],
        env={**os.environ, "LEDGER_CLI_FILE": books},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def read_lines(proc: subprocess.Popen[bytes], count: int, timeout: float = 60) -> bytes:
    """What the follower printed until it printed `count` lines (or the time ran out)."""
    assert proc.stdout is not None
    data = b""
    chooser = selectors.DefaultSelector()
    chooser.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < count and time.monotonic() < deadline:
        if chooser.select(timeout=0.2):
            piece = os.read(proc.stdout.fileno(), 65536)
            if not piece:
                break
            data += piece
    return data


@pytest.mark.parametrize("fmt", ["tsv", "jsonl"])
def test_follow_sees_four_writers_events_exactly_once_in_order_and_ctrl_c_is_130(books: str, fmt: str) -> None:
    assert run_installed(["deposit", "acct", "1"], books).returncode == 0  # type: ignore[arg-type]
    proc = follower(books, "--format", fmt)
    try:
        first = read_lines(proc, 1)
        assert first.count(b"\n") == 1

        def writer(n: int) -> None:
            for i in range(15):
                done = run_installed(["deposit", f"w{n}", f"{i + 1}"], books)  # type: ignore[arg-type]
                assert done.returncode == 0, done.stderr

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(writer, range(4)))
        data = first + read_lines(proc, 60)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    data += rest
    assert proc.returncode == 130, err
    assert data.endswith(b"\n")  # nothing half-printed
    lines = data.decode().splitlines()
    if fmt == "jsonl":
        seqs = [json.loads(line)["seq"] for line in lines]
    else:
        seqs = [int(line.split("\t")[0]) for line in lines]
        assert all(len(line.split("\t")) == 9 for line in lines)
    assert seqs == list(range(1, 62))
    assert err.decode().strip() == "ledger: error: interrupted"


def test_follow_of_one_account_keeps_its_running_balance(books: str) -> None:
    for args in (["deposit", "a", "10"], ["deposit", "b", "5"], ["withdraw", "a", "3"]):
        assert run_installed(args, books).returncode == 0  # type: ignore[arg-type]
    proc = follower(books, "a")
    try:
        before = read_lines(proc, 2)
        assert run_installed(["deposit", "b", "1"], books).returncode == 0  # type: ignore[arg-type]
        assert run_installed(["deposit", "a", "0.50"], books).returncode == 0  # type: ignore[arg-type]
        after = read_lines(proc, 1)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    balances = [line.split("\t")[-1] for line in (before + after).decode().splitlines()]
    assert balances == ["10", "7", "7.50"]


@pytest.mark.parametrize("extra", [["--format", "table"], ["--json"], ["--until", "3"], ["--as-of", "2026-01-01"],
                                   ["--by-date"]])  # fmt: skip
def test_follow_takes_only_line_formats_and_no_bound(tmp_path: Path, extra: list[str]) -> None:
    done = run_installed(["history", "--follow", *extra], tmp_path / "books.jsonl")
    assert done.returncode == 2 and "--follow" in done.stderr and len(done.stderr.splitlines()) == 1


def test_follow_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    books = tmp_path / "books.jsonl"
    for amount in ("1", "2", "3"):
        assert run_installed(["deposit", "a", amount], books).returncode == 0
    done = subprocess.run(
        ["bash", "-c", f'"{LEDGER}" history --follow | head -2'],
        env={**os.environ, "LEDGER_CLI_FILE": str(books)},
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout.count(b"\n") == 2 and done.stderr == b""
