"""`ledger copy SRC DST` (contract section 8): byte for byte between a file and PostgreSQL and
back, incremental, and refusing a destination that has diverged."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_installed
from tests.test_checkpoint import records
from tests.test_v1_dates import LOG as V1_LOG


def ledger(where: str | Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_installed(list(args), where)  # type: ignore[arg-type]


def copy(source: str | Path, destination: str | Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_installed(["copy", str(source), str(destination), *extra], Path("/nonexistent/unused.jsonl"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100k events of every type: v1 lines first (written before dates existed), then v2 lines
    from an import of every kind of record, a reversal, a period closed and reopened, memos
    with quotes, backslashes and non-ASCII."""
    folder = tmp_path_factory.mktemp("copy")
    log = folder / "source.jsonl"
    log.write_bytes(V1_LOG)
    rows = records(99_980, seed=41)
    for n, row in enumerate(rows):
        if n % 7 == 0:
            row["memo"] = f'say "hi" \\ café ✓ {n}'
        if n % 11 == 0:
            row["key"] = f"k-{n}"
    source = folder / "records.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    assert ledger(log, "import", "-q", str(source)).returncode == 0
    deposit = next(n for n, row in enumerate(rows) if row["type"] == "deposit") + len(V1_LOG.splitlines()) + 1
    for args in (
        ("reverse", str(deposit)),
        ("close-period", "2025-12-31"),
        ("reopen-period", "2025-12-01", "-m", "late"),
    ):
        done = ledger(log, *args)
        assert done.returncode == 0, done.stderr
    assert ledger(log, "verify").returncode == 0
    return log


def test_file_to_postgresql_and_back_gives_the_same_bytes_and_again_only_what_is_new(
    big: Path, pg_uri: str, tmp_path: Path
) -> None:
    count = len(big.read_bytes().splitlines())
    there = copy(big, pg_uri)
    assert there.returncode == 0, there.stderr
    assert there.stdout.startswith(f"copied {count} events: ") and "is at seq" in there.stdout
    back = tmp_path / "back.jsonl"
    home = copy(pg_uri, back, "--json")
    assert home.returncode == 0, home.stderr
    assert json.loads(home.stdout)["copied"] == count
    assert sha(back) == sha(big)
    assert ledger(pg_uri, "verify").returncode == 0
    assert ledger(pg_uri, "balance").stdout == ledger(big, "balance").stdout
    # an incremental copy appends only what is missing, both ways
    work = tmp_path / "work.jsonl"
    work.write_bytes(big.read_bytes())
    for amount in ("1", "2", "3"):
        assert ledger(work, "deposit", "new:acct", amount).returncode == 0
    assert copy(work, pg_uri).stdout.startswith("copied 3 events")
    assert copy(pg_uri, back).stdout.startswith("copied 3 events")
    assert sha(back) == sha(work)
    assert copy(work, pg_uri).stdout.startswith("copied 0 events")


def test_a_destination_that_diverged_is_exit_3_naming_the_first_differing_seq(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    for amount in ("10", "20", "30"):
        assert ledger(one, "deposit", "a", amount).returncode == 0
    assert copy(one, two).returncode == 0
    assert ledger(one, "deposit", "a", "4").returncode == 0
    assert ledger(two, "deposit", "b", "5").returncode == 0
    before = two.read_bytes()
    done = copy(one, two)
    assert done.returncode == 3 and "diverged at seq 4" in done.stderr and len(done.stderr.splitlines()) == 1
    assert two.read_bytes() == before
    ahead = tmp_path / "ahead.jsonl"
    ahead.write_bytes(before)
    done = copy(one.with_name("short.jsonl"), ahead)  # an empty source: DST holds what it lacks
    assert done.returncode == 3 and "diverged at seq 1" in done.stderr


def test_a_source_that_does_not_verify_copies_nothing(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    for amount in ("10", "20", "30"):
        assert ledger(one, "deposit", "a", amount).returncode == 0
    one.write_bytes(one.read_bytes().replace(b'"amount":"20"', b'"amount":"25"'))
    done = copy(one, two)
    assert done.returncode == 3 and "line 2" in done.stderr and not two.exists()


def test_the_same_log_twice_is_exit_2(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    assert ledger(one, "deposit", "a", "1").returncode == 0
    link = tmp_path / "link.jsonl"
    link.symlink_to(one)
    for destination in (one, link):
        done = copy(one, destination)
        assert done.returncode == 2 and "same log" in done.stderr


def test_an_export_from_postgresql_is_the_files_byte_for_byte(big: Path, pg_uri: str, tmp_path: Path) -> None:
    """Issue 12 on the database store: the off-day entries are read by seq from the database,
    the walk goes over its lines; every format comes out as from the same events in a file
    (with a backdated entry, a period closed and reopened among them)."""
    work = tmp_path / "work.jsonl"
    work.write_bytes(big.read_bytes())
    done = ledger(work, "deposit", "late:one", "7.25", "--date", "2026-01-02")  # (after the closed period)
    assert done.returncode == 0, done.stderr
    assert copy(work, pg_uri).returncode == 0
    for fmt in ("hledger", "beancount", "csv"):
        here, there = ledger(work, "export", "--format", fmt), ledger(pg_uri, "export", "--format", fmt)
        assert here.returncode == 0 and there.returncode == 0, here.stderr + there.stderr
        assert there.stdout == here.stdout
        assert "2026-01-02" in here.stdout
