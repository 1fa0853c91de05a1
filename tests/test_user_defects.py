"""Regression tests of issue 8 that need no second process: the seq lookup at block edges,
DST bounds, repeated import fields, an empty --file, and the rough edges.

The defects about processes, pipes, signals and links are in test_hostile.py.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_cli import checkpoint, lookup
from ledger_cli.config import ledger_at
from ledger_cli.domain import Deposit, Open
from ledger_cli.errors import StoreError
from ledger_cli.filelog import FileLog
from ledger_cli.service import Ledger
from ledger_cli.when import local_instant, parse_point
from tests.conftest import Runner, run_installed, seed
from tests.test_properties import local_zone

# ---- 1. the seq -> line lookup at block boundaries ------------------------------------------


_LOG: list[Path] = []


def _varied_log(folder: Path) -> Path:
    """A log of 60 events whose lines have 60 different lengths (memos of 0 to 59 characters)."""
    if not _LOG:
        path = folder / "varied.jsonl"
        ledger = ledger_at(path, use_cache=False)
        for i in range(60):
            ledger.execute(Deposit(f"a{i % 3}", Decimal("1.25"), "m" * i or None, None))
        _LOG.append(path)
    return _LOG[0]


@given(chunk=st.integers(16, 700), step=st.integers(1, 800), indexed=st.booleans(), order=st.randoms())
def test_event_at_finds_every_line_whatever_block_edge_it_starts_on(
    tmp_path_factory: pytest.TempPathFactory, chunk: int, step: int, indexed: bool, order: Any
) -> None:
    path = _varied_log(tmp_path_factory.mktemp("at"))
    lines = path.read_bytes().split(b"\n")[:-1]
    seqs = list(range(1, len(lines) + 1))
    order.shuffle(seqs)  # an index is built as far as each lookup needs, in any order
    saved = lookup.CHUNK, lookup.LineIndex.STEP
    # Blocks and samples shorter and longer than a line, with edges at every offset.
    lookup.CHUNK, lookup.LineIndex.STEP = chunk, step
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            index = lookup.LineIndex(fd) if indexed else None
            for seq in seqs:
                found = lookup.event_at(str(path), fd, seq, index)
                assert found.hash == json.loads(lines[seq - 1])["hash"]
            with pytest.raises(StoreError):
                lookup.event_at(str(path), fd, len(lines) + 1, index)
        finally:
            os.close(fd)
    finally:
        lookup.CHUNK, lookup.LineIndex.STEP = saved


def test_a_line_that_starts_right_after_a_block_edge_is_found(tmp_path: Path) -> None:
    """The issue's reproduction: line 3327 of this batch starts after the first MiB's last newline."""
    records = tmp_path / "k.jsonl"
    records.write_text(
        "".join(
            json.dumps({"type": "deposit", "account": f"a{i % 100}", "amount": "1.25", "key": f"batch-{i}"}) + "\n"
            for i in range(20000)
        )
    )
    log = tmp_path / "log.jsonl"
    first = run_installed(["import", str(records)], log)
    assert first.returncode == 0, first.stderr
    offsets = [0]
    for line in log.read_bytes().split(b"\n")[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    assert any(offset == 1 << 20 or (offsets[i - 1] < 1 << 20 < offset) for i, offset in enumerate(offsets) if i)
    before = log.read_bytes()
    again = run_installed(["import", str(records)], log)
    assert again.returncode == 0, again.stderr
    assert log.read_bytes() == before
    retry = run_installed(["deposit", "a26", "1.25", "-k", "batch-3326"], log)
    assert retry.returncode == 0 and "already recorded as seq 3327" in retry.stdout, retry.stderr
    reverse = run_installed(["reverse", "3327"], log)
    assert reverse.returncode == 0, reverse.stderr
    verify = run_installed(["verify"], log)
    assert verify.returncode == 0 and verify.stdout.startswith("ok: 20001 events"), verify.stderr


# ---- 6. --until around changes of offset (DST) ----------------------------------------------


@pytest.fixture
def zone() -> Iterator[Callable[[str], None]]:
    with ExitStack() as stack:
        yield lambda name: stack.enter_context(local_zone(name))


def test_a_day_that_starts_at_one_oclock_starts_there(zone: Callable[[str], None]) -> None:
    zone("America/Santiago")
    # 2025-09-07 00:00 does not exist there: clocks go from 23:59:59 (-04) to 01:00 (-03).
    assert parse_point("2025-09-07").ts == "2025-09-07T04:00:00.000000Z"


def test_a_deposit_late_on_the_evening_before_a_gap_day_is_within_until_that_day(
    ledger: Runner, zone: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    zone("America/Santiago")
    clock = iter(["2025-09-06T20:00:00.000000Z", "2025-09-07T03:30:00.000000Z"])  # 16:00 and 23:30 local
    path = ledger.log
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ledger_at(path, use_cache=False, clock=lambda: next(clock))
    writer.execute(Deposit("a", Decimal(1), None, None))
    writer.execute(Deposit("a", Decimal(2), None, None))
    out = ledger("balance", "--until", "2025-09-07", "--no-cache")
    assert out.code == 0 and out.stdout == "a\t3\n", (out.stdout, out.stderr)


def test_a_local_time_that_does_not_exist_moves_forward(zone: Callable[[str], None]) -> None:
    zone("America/New_York")
    gap = parse_point("2025-03-09T02:00").ts
    assert gap == "2025-03-09T07:00:00.000000Z"  # 03:00 EDT
    assert gap > parse_point("2025-03-09T01:59:59").ts


def test_a_local_time_that_happens_twice_is_the_earlier_instant(zone: Callable[[str], None]) -> None:
    zone("America/New_York")
    assert parse_point("2025-11-02T01:30").ts == "2025-11-02T05:30:00.000000Z"  # 01:30 EDT, not EST


ZONES = ["America/Santiago", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


def _changes(name: str) -> list[datetime]:
    """The local wall-clock times at which `name` changed its offset in 2015-2030."""
    zone = ZoneInfo(name)
    moment = datetime(2015, 1, 1, tzinfo=timezone.utc)
    found = []
    offset = moment.astimezone(zone).utcoffset()
    while moment.year < 2031:
        later = moment + timedelta(hours=1)
        if later.astimezone(zone).utcoffset() != offset:
            offset = later.astimezone(zone).utcoffset()
            found.append(later.astimezone(zone).replace(tzinfo=None))
        moment = later
    return found or [datetime(2025, 1, 1)]


_CHANGES = {name: _changes(name) for name in ZONES}


@st.composite
def wall_times(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a local wall-clock time: often within three hours of a change of offset
    (where gaps and repeats are), otherwise anywhere in 1971-2037."""
    name = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        change = draw(st.sampled_from(_CHANGES[name]))
        minutes = draw(st.integers(-180, 180))
        return name, change + timedelta(minutes=minutes, seconds=draw(st.sampled_from([0, 1, 59])))
    return name, draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2037, 12, 31)))


@given(case=wall_times())
def test_local_times_resolve_as_zoneinfo_fold_0_does(case: tuple[str, datetime]) -> None:
    name, naive = case
    with local_zone(name):
        resolved = local_instant(naive)
    # PEP 495: fold=0 reads a time in a gap with the offset before it, a repeated one as the first.
    assert resolved == naive.replace(tzinfo=ZoneInfo(name), fold=0).astimezone(timezone.utc)


# ---- 7. a repeated field in an import --------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"deposit","account":"x","amount":"5","amount":"500"}',
        '{"type":"deposit","account":"x","amount":"5","am\\u006funt":"500"}',
        '{"type":"deposit","account":"x","account":"y","amount":"5"}',
        '{"type":"deposit","account":"x","amount":"5","memo":null,"memo":"m"}',
        '{"type": "deposit", "account": "x", "amount": "5", "amount": "500"}',
        '{"type" : "deposit" , "account" : "x" , "amount" : "5" , "amount" : "500"}',
        '{"type" : "deposit","account":"x","amount":"5","amount":"500"}',
        '{"type":"deposit","account":"x","amount":"5","amount"\t:"500"}',
        '{"type":"deposit","account":"x","amount":"5","memo":"a\\"b","amount":"6"}',
    ],
)
def test_a_json_record_naming_a_field_twice_is_refused(ledger: Runner, line: str) -> None:
    out = ledger("import", input=line + "\n")
    assert out.code == 2, (out.stdout, out.stderr)
    assert "line 1" in out.stderr and "twice" in out.stderr
    assert not ledger.log.exists()


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"deposit","account":"x","amount":"5","memo":null}',
        '{"type" : "deposit", "account" : "x", "amount" : "5"}',
        '{"type":"deposit","account":"x","amount":"5","memo":"\\"amount\\": \\"6\\""}',
    ],
)
def test_records_without_a_repeated_field_are_imported(ledger: Runner, line: str) -> None:
    out = ledger("import", input=line + "\n")
    assert out.code == 0, out.stderr
    assert json.loads(ledger.lines()[0])["amount"] == "5"


def test_a_field_name_inside_a_value_is_not_a_repeat(ledger: Runner) -> None:
    line = json.dumps({"type": "deposit", "account": "x", "amount": "5", "memo": 'the "amount" field, \\ too'})
    out = ledger("import", input=line + "\n")
    assert out.code == 0, out.stderr
    assert json.loads(ledger.lines()[0])["memo"] == 'the "amount" field, \\ too'


def test_a_csv_header_naming_a_field_twice_is_refused(ledger: Runner, tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("type,account,amount,amount\ndeposit,x,5,500\n")
    out = ledger("import", str(source))
    assert out.code == 2 and "line 1" in out.stderr and "'amount' twice" in out.stderr
    assert not ledger.log.exists()


def test_a_json_lines_import_may_start_with_a_byte_order_mark(ledger: Runner, tmp_path: Path) -> None:
    source = tmp_path / "bom.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"type":"deposit","account":"x","amount":"5"}\n')
    out = ledger("import", str(source))
    assert out.code == 0, out.stderr
    assert len(ledger.lines()) == 1


# ---- 8. an empty --file or LEDGER_CLI_FILE ---------------------------------------------------


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default data folder, moved into tmp_path (platformdirs reads XDG_DATA_HOME)."""
    home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.mark.parametrize("args", [["-f", "", "deposit", "x", "1"], ["--file=", "deposit", "x", "1"],
                                  ["deposit", "x", "1", "-f", ""]])  # fmt: skip
def test_an_empty_file_option_is_a_usage_error(ledger: Runner, data_home: Path, args: list[str]) -> None:
    out = ledger(*args)
    assert out.code == 2 and "--file is empty" in out.stderr, (out.code, out.stderr)
    assert not data_home.exists() and not ledger.log.exists()


def test_an_empty_file_variable_is_a_usage_error(ledger: Runner, data_home: Path) -> None:
    out = ledger("deposit", "x", "1", env={"LEDGER_CLI_FILE": ""})
    assert out.code == 2 and "LEDGER_CLI_FILE" in out.stderr
    assert not data_home.exists()


# ---- rough edges -----------------------------------------------------------------------------


def test_a_bare_ledger_prints_the_help_and_succeeds(ledger: Runner) -> None:
    out = ledger()
    assert out.code == 0 and "Usage:" in out.stdout and out.stderr == ""


def test_import_help_lists_the_record_fields(ledger: Runner) -> None:
    out = ledger("import", "--help")
    flat = " ".join(out.stdout.split())
    for field in ("type", "account", "to", "amount", "memo", "key"):
        assert f" {field} " in flat
    assert "open, deposit, withdraw, transfer or close" in flat


@pytest.mark.parametrize("command", [["deposit", "a", "5"], ["balance"], ["history"], ["replay"], ["accounts"],
                                     ["verify"], ["reverse", "1"]])  # fmt: skip
def test_file_option_may_follow_the_command(ledger: Runner, tmp_path: Path, command: list[str]) -> None:
    other = tmp_path / "other.jsonl"
    seed(ledger, Deposit("a", Decimal(5), None, None))
    other.write_bytes(ledger.log.read_bytes())
    before = ledger.log.read_bytes()
    out = ledger(*command, "-f", str(other))
    assert out.code == 0, out.stderr
    assert ledger.log.read_bytes() == before  # the default log was not the one used
    if command[0] in ("deposit", "reverse"):
        assert len(other.read_bytes().splitlines()) == 2


def test_two_different_file_options_are_a_usage_error(ledger: Runner, tmp_path: Path) -> None:
    out = ledger("-f", str(tmp_path / "a.jsonl"), "deposit", "x", "1", "-f", str(tmp_path / "b.jsonl"))
    assert out.code == 2 and "twice" in out.stderr
    assert not (tmp_path / "a.jsonl").exists() and not (tmp_path / "b.jsonl").exists()


def test_reverse_of_a_negative_seq_says_invalid_seq(ledger: Runner) -> None:
    out = ledger("reverse", "-1")
    assert out.code == 2 and "invalid event seq '-1'" in out.stderr


def test_ctrl_c_during_a_read_does_not_talk_about_recording(ledger: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(ledger, Deposit("a", Decimal(5), None, None))

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Ledger, "state", interrupted)
    out = ledger("balance")
    assert out.code == 130 and out.stderr == "ledger: error: interrupted\n"


def test_a_failed_checkpoint_write_leaves_no_temporary_file(ledger: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "replace", full)
    for i in range(3):
        out = ledger("deposit", "a", "5", "-k", f"k{i}")
        assert out.code == 0, out.stderr
    cache = ledger.log.with_name(ledger.log.name + ".cache")
    assert cache.is_dir() and os.listdir(cache) == []


def test_a_clock_behind_the_last_event_is_warned_about_once(ledger: Runner, capsys: pytest.CaptureFixture[str]) -> None:
    path = ledger.log
    path.parent.mkdir(parents=True, exist_ok=True)
    ledger_at(path, use_cache=False, clock=lambda: "2099-01-01T00:00:00.000000Z").execute(Open("a", None, None))
    capsys.readouterr()
    out = ledger("deposit", "a", "5")
    assert out.code == 0
    warnings = [line for line in out.stderr.splitlines() if "2099-01-01T00:00:00.000000Z" in line]
    assert len(warnings) == 1 and warnings[0].startswith("ledger: warning:")
    assert json.loads(ledger.lines()[-1])["ts"] == "2099-01-01T00:00:00.000000Z"  # pinned, as the warning says
    quiet = ledger("deposit", "a", "5", env={"TZ": "UTC"})
    assert quiet.code == 0


def test_a_clock_that_is_on_time_gives_no_warning(ledger: Runner) -> None:
    assert ledger("deposit", "a", "5").stderr == ""
    assert ledger("deposit", "a", "5").stderr == ""


# ---- 10. memory of an import that creates many accounts --------------------------------------

ACCOUNTS = 200_000
PER_ACCOUNT = 150  # bytes: the README's figure, with room


def test_an_import_creating_200k_accounts_stays_within_50_mib_plus_a_bounded_cost_per_account(
    tmp_path: Path,
) -> None:
    records = tmp_path / "opens.jsonl"
    records.write_text("".join(f'{{"type":"open","account":"acct:{i}"}}\n' for i in range(ACCOUNTS)))
    log = tmp_path / "log.jsonl"
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "assert done.returncode == 0, done.stderr\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    ledger_bin = str(Path(sys.executable).parent / "ledger")
    done = run_probe(probe, [ledger_bin, "-f", str(log), "import", "-q", str(records)])
    peak_kib = int(done)
    limit_kib = 50 * 1024 + ACCOUNTS * PER_ACCOUNT // 1024
    assert peak_kib <= limit_kib, f"peak {peak_kib} KiB > {limit_kib} KiB"
    assert len(log.read_bytes().splitlines()) == ACCOUNTS


def run_probe(probe: str, args: list[str]) -> str:
    import subprocess

    result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# ---- finding an event by seq without reading the log from its start -------------------------


@pytest.fixture(scope="module")
def snapshotted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cached log of 3,500 keyed deposits, with the snapshots a reader leaves (every 1,000)."""
    path = tmp_path_factory.mktemp("snap") / "log.jsonl"
    records = "".join(
        json.dumps({"type": "deposit", "account": f"a{i % 7}", "amount": "1", "key": f"k{i}"}) + "\n"
        for i in range(3500)
    )
    source = path.with_name("records.jsonl")
    source.write_text(records)
    assert run_installed(["import", str(source)], path).returncode == 0
    assert run_installed(["balance", "--until", "3499"], path).returncode == 0  # a fold that leaves snapshots
    assert len([n for n in os.listdir(f"{path}.cache") if n[1:13].isdigit()]) == 3
    return path


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    offsets: list[int] = []
    real = os.pread

    def pread(fd: int, size: int, offset: int) -> bytes:
        offsets.append(offset)
        return real(fd, size, offset)

    monkeypatch.setattr(lookup.os, "pread", pread)
    return offsets


def test_a_late_event_is_found_from_the_nearest_snapshot_not_from_byte_0(
    snapshotted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = snapshotted.read_bytes().split(b"\n")[:-1]
    third = sum(len(line) + 1 for line in lines[:2999]) - 1  # the newline before line 3000, the snapshot's
    fd = os.open(snapshotted, os.O_RDONLY)
    try:
        index = FileLog(str(snapshotted))._line_index(fd)
        offsets = _reads(monkeypatch)
        for seq in (3001, 3200, 3500):
            assert lookup.event_at(str(snapshotted), fd, seq, index).hash == json.loads(lines[seq - 1])["hash"]
        assert offsets and min(offsets) >= third, min(offsets)
    finally:
        os.close(fd)


def test_a_forged_snapshot_does_not_mislead_the_lookup(tmp_path: Path, snapshotted: Path) -> None:
    import shutil
    from hashlib import sha256

    path = tmp_path / "log.jsonl"
    shutil.copy(snapshotted, path)
    shutil.copytree(f"{snapshotted}.cache", f"{path}.cache")
    os.utime(path, ns=(os.stat(snapshotted).st_atime_ns, os.stat(snapshotted).st_mtime_ns))
    lines = path.read_bytes().split(b"\n")[:-1]
    name = next(n for n in os.listdir(f"{path}.cache") if n.startswith("s000000003000"))
    blob = Path(f"{path}.cache/{name}").read_bytes()
    body = blob[: -(len(',"digest":"') + 64 + 2)] + b"}"
    data = json.loads(body)
    data["offset"] -= len(lines[2999]) + 1  # points one line early, with a digest that matches
    data["line_start"] -= len(lines[2998]) + 1
    forged = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    Path(f"{path}.cache/{name}").write_bytes(forged[:-1] + b',"digest":"' + sha256(forged).hexdigest().encode() + b'"}')
    from ledger_cli.checkpoint import seal

    fd = os.open(path, os.O_RDONLY)
    try:
        seal(str(path), fd)  # as if a writer had sealed this very file
        index = FileLog(str(path))._line_index(fd)
        for seq in (3001, 3002, 3400):
            assert lookup.event_at(str(path), fd, seq, index).hash == json.loads(lines[seq - 1])["hash"]
    finally:
        os.close(fd)


def test_a_keyed_retry_and_a_reversal_of_late_events_find_the_right_ones(snapshotted: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "log.jsonl"
    shutil.copy(snapshotted, path)
    retry = run_installed(["deposit", "a5", "1", "-k", "k3400"], path)  # 3400 % 7 == 5
    assert retry.returncode == 0 and "already recorded as seq 3401" in retry.stdout, retry.stderr
    reverse = run_installed(["reverse", "3401"], path)
    assert reverse.returncode == 0 and "reversed event 3401" in reverse.stdout, reverse.stderr
    assert run_installed(["verify"], path).returncode == 0
