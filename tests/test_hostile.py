"""The installed `ledger` in a hostile environment: several names for one log, full or closed
standard streams, signals after the durable write, logs that are not regular files, odd values.

Every test runs the console script as a separate process on a private log under tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_installed
from tests.helpers_log import LEDGER, assert_chain, digest, env_for, events, ok, verify_json

HUGE = "99999999999999999999999"
PAST_INT64 = str(2**63)
BIG_LOG_ACCOUNTS = 200_000


# ---- helpers ----------------------------------------------------------------------------------


def shell(log: Path, redirect: str, *args: str, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run `ledger ARGS REDIRECT` through bash (to close standard descriptors: `>&-`, `2>&-`, `<&-`)."""
    return subprocess.run(
        ["bash", "-c", f'exec "$@" {redirect}', "ledger", LEDGER, *args],
        env=env_for(log, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def bounded(args: Sequence[str], log: Path, timeout: float = 10, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """run_installed, but a hang past `timeout` is a test failure that names the command."""
    try:
        return run_installed(args, log, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`ledger {' '.join(args)}` hung for more than {timeout:g}s")


def one_message(stderr: str, prefix: str = "ledger: ") -> str:
    """stderr holds exactly one line, starting with `prefix`, and no traceback; returns it."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    return lines[0]


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "ledger: error" not in result.stderr, result.stderr


def three_events(log: Path) -> None:
    for amount in ("10", "20", "30"):
        ok(log, "deposit", "acct", amount)


def keys_in(log: Path) -> Counter[str]:
    return Counter(row.get("key") for row in events(log))


# ---- 1. several names for one log share one lock ----------------------------------------------


def _deposit_through(
    names: Sequence[Path], count: int = 200, in_flight: int = 8
) -> list[subprocess.CompletedProcess[str]]:
    """`count` keyed deposits, `in_flight` at a time, alternating between the names of one log."""
    env = env_for(names[0], LEDGER_CLI_LOCK_TIMEOUT="60")

    def deposit(n: int) -> subprocess.CompletedProcess[str]:
        name = str(names[n % len(names)])
        argv = [LEDGER, "-f", name, "deposit", "acct", "1", "-k", f"k{n}", "-m", f"k{n}"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(in_flight) as pool:
        return list(pool.map(deposit, range(count)))


def _assert_every_deposit_landed_once(real: Path, results: list[subprocess.CompletedProcess[str]]) -> None:
    failed = [(r.args[2], r.returncode, r.stderr) for r in results if r.returncode != 0]
    assert failed == [], failed[:5]
    rows = events(real)
    assert len(rows) == 1 + len(results)
    assert_chain(rows)
    verify_json(real)
    keys = keys_in(real)
    assert all(keys[f"k{n}"] == 1 for n in range(len(results))), [k for k, c in keys.items() if c != 1]


def _links(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """The real log (seeded with one deposit) and a second name for it of the given kind."""
    if kind == "folder symlink":
        (tmp_path / "realdir").mkdir()
        real = tmp_path / "realdir" / "ledger.jsonl"
        (tmp_path / "linkdir").symlink_to(tmp_path / "realdir", target_is_directory=True)
        other = tmp_path / "linkdir" / "ledger.jsonl"
    else:
        real = tmp_path / "real.jsonl"
        other = tmp_path / ("hard.jsonl" if kind == "hard link" else "sym.jsonl")
    ok(real, "deposit", "acct", "1", "-m", "seed")
    if kind == "hard link":
        os.link(real, other)
    elif kind == "symlink":
        other.symlink_to(real)
    assert os.path.samefile(real, other)
    return real, other


def test_hard_link_names_share_one_lock_and_lose_no_event(tmp_path: Path) -> None:
    real, hard = _links(tmp_path, "hard link")
    results = _deposit_through([real, hard])
    _assert_every_deposit_landed_once(real, results)
    assert os.path.samefile(real, hard)  # still one file under two names


def test_symlinked_log_file_shares_the_lock_of_its_target_and_loses_no_event(tmp_path: Path) -> None:
    real, sym = _links(tmp_path, "symlink")
    results = _deposit_through([real, sym])
    _assert_every_deposit_landed_once(real, results)
    assert sym.is_symlink() and os.path.samefile(real, sym)


def test_log_reached_through_a_symlinked_folder_shares_one_lock_and_loses_no_event(tmp_path: Path) -> None:
    real, through_link = _links(tmp_path, "folder symlink")
    results = _deposit_through([real, through_link])
    _assert_every_deposit_landed_once(real, results)


# ---- 2. durable means success -----------------------------------------------------------------


def _assert_warned_about_output(stderr: str) -> None:
    line = one_message(stderr, "ledger: warning:")
    assert re.search(r"print|writ|output|stdout", line, re.IGNORECASE), line


def test_deposit_recorded_while_stdout_is_a_full_device_exits_0_with_one_warning(log: Path) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [LEDGER, "deposit", "a", "10"], env=env_for(log), stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert result.returncode == 0, result.stderr
    rows = events(log)
    assert [(r["type"], r["account"], r["amount"]) for r in rows] == [("deposited", "a", "10")]
    _assert_warned_about_output(result.stderr)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_deposit_recorded_while_stdout_is_closed_exits_0_with_one_warning(log: Path, as_json: bool) -> None:
    result = shell(log, ">&-", "deposit", "a", "10", *(["--json"] if as_json else []))
    assert result.returncode == 0, result.stderr
    rows = events(log)
    assert [(r["type"], r["account"], r["amount"]) for r in rows] == [("deposited", "a", "10")]
    _assert_warned_about_output(result.stderr)
    verify_json(log)


def test_import_recorded_while_stdout_is_closed_exits_0_with_one_warning(log: Path, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"type":"deposit","account":"a","amount":"10","key":"i1"}\n{"type":"open","account":"b"}\n')
    result = shell(log, ">&-", "import", str(batch))
    assert result.returncode == 0, result.stderr
    assert [r["type"] for r in events(log)] == ["deposited", "account_opened"]
    _assert_warned_about_output(result.stderr)
    verify_json(log)


@pytest.fixture(scope="session")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine folder holding a log of 200,000 opened accounts and its checkpoint cache."""
    folder = tmp_path_factory.mktemp("big") / "books"
    folder.mkdir()
    log = folder / "ledger.jsonl"
    opens = folder.parent / "opens.jsonl"
    with open(opens, "w") as out:
        out.writelines(f'{{"type":"open","account":"a{i}"}}\n' for i in range(BIG_LOG_ACCOUNTS))
    ok(log, "import", str(opens), timeout=300)
    ok(log, "balance", "a1")  # a reader's checkpoint too, as a real user's books would have
    opens.unlink()
    return folder


# Waits in the parent for the moment to signal the child; (still running, stdout already read).
Moment = Callable[[subprocess.Popen[str]], tuple[bool, str]]


class _Try:
    """One `ledger import one.jsonl` on a fresh copy of the big log, signalled at some moment."""

    def __init__(self, big_log: Path, work: Path, batch: Path) -> None:
        self.big_log = big_log
        self.work = work
        self.log = work / "ledger.jsonl"
        self.batch = batch
        self.pristine = (big_log / "ledger.jsonl").read_bytes()
        self.size = len(self.pristine)

    def fresh(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.big_log, self.work)

    def run(self, signum: int, when: Moment) -> tuple[bool, int, str, str]:
        """Start the import, let `when` wait for the moment (True if the process still runs), signal it.

        Returns (signal sent while running, exit status, stdout, stderr).
        """
        self.fresh()
        proc = subprocess.Popen(
            [LEDGER, "import", str(self.batch)],
            env=env_for(self.log),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            running, seen = when(proc)
            sent = running and proc.poll() is None
            if sent:
                proc.send_signal(signum)
            out, err = proc.communicate(timeout=60)
            out = seen + out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return sent, proc.returncode, out, err

    def recorded(self) -> bool:
        """Whether the deposit is in the log; asserts the log is the old one plus at most that line."""
        data = self.log.read_bytes()
        pristine = self.pristine
        assert data[: self.size] == pristine, "the log's existing lines were changed"
        extra = data[self.size :]
        if not extra:
            return False
        assert extra.endswith(b"\n") and extra.count(b"\n") == 1, extra[:300]
        row = json.loads(extra)
        last = json.loads(pristine[pristine.rfind(b"\n", 0, -1) + 1 :])
        assert (row["seq"], row["prev"], row["type"], row["key"]) == (last["seq"] + 1, last["hash"], "deposited", "sig")
        assert row["hash"] == digest({k: v for k, v in row.items() if k != "hash"})
        return True


def after(delay: float) -> Moment:
    """Wait `delay` seconds (the sweep), returning early if the process ends first."""

    def wait(proc: subprocess.Popen[str]) -> tuple[bool, str]:
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            return True, ""
        return False, ""

    return wait


def once_the_log_grows(log: Path, size: int, then: float) -> Moment:
    """Poll the log's size; `then` seconds after the new line appears (the append, maybe not yet synced)."""

    def wait(proc: subprocess.Popen[str]) -> tuple[bool, str]:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if log.stat().st_size > size:
                return after(then)(proc) if then else (True, "")
            time.sleep(0.002)
        return False, ""

    return wait


def once_confirmed(then: float) -> Moment:
    """`then` seconds after the confirmation line is on stdout: the command has reported, only its exit is left."""

    def wait(proc: subprocess.Popen[str]) -> tuple[bool, str]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        return (after(then)(proc)[0] if then else bool(line)), line

    return wait


Outcome = tuple[str, bool, int, str, str, bool, _Try]


def _sweep(
    big_log: Path,
    tmp_path: Path,
    signum: int,
    delays: Sequence[float] = (),
    after_growth: Sequence[float] = (),
    after_confirmation: Sequence[float] = (),
) -> Iterator[Outcome]:
    """Signal one import per moment; yields (moment, signal sent, exit status, stdout, stderr, recorded, try)."""
    batch = tmp_path / "one.jsonl"
    batch.write_text('{"type":"deposit","account":"a1","amount":"1","key":"sig"}\n')
    attempt = _Try(big_log, tmp_path / "books", batch)
    moments = [(f"after {d:.2f}s", after(d)) for d in delays]
    moments += [(f"{d:.2f}s after the append", once_the_log_grows(attempt.log, attempt.size, d)) for d in after_growth]
    moments += [(f"{d * 1000:g} ms after the confirmation", once_confirmed(d)) for d in after_confirmation]
    for label, when in moments:
        sent, code, out, err = attempt.run(signum, when)
        yield label, sent, code, out, err, attempt.recorded(), attempt


def _geometric(first: float, last: float, steps: int) -> list[float]:
    return [first * (last / first) ** (i / (steps - 1)) for i in range(steps)]


def test_ctrl_c_during_an_import_exits_0_exactly_when_the_event_was_recorded(big_log: Path, tmp_path: Path) -> None:
    outcomes = []
    landed_after_durable = False
    for label, sent, code, out, err, recorded, attempt in _sweep(
        big_log, tmp_path, signal.SIGINT, _geometric(0.05, 3.0, 12), [0.0, 0.03, 0.1]
    ):
        outcomes.append((label, sent, code, recorded, err.strip().splitlines()[-1:]))
        context = (label, code, recorded, out, err[-600:])
        assert (code == 0) == recorded, context
        assert code in (0, 130, -signal.SIGINT), context
        if code == 130:
            assert "interrupted" in err, context
        if recorded:
            assert "nothing was recorded" not in err and "ledger: error" not in err, context
            assert "Traceback" not in err and "imported 1 event" in out, context
        if sent and recorded:
            landed_after_durable = True
            verify_json(attempt.log)
    assert landed_after_durable, outcomes


def test_sigterm_during_an_import_exits_0_exactly_when_the_event_was_recorded(big_log: Path, tmp_path: Path) -> None:
    outcomes = []
    for label, sent, code, out, err, recorded, attempt in _sweep(
        big_log, tmp_path, signal.SIGTERM, [0.1, 0.4, 0.8], [0.0, 0.03, 0.1]
    ):
        outcomes.append((label, sent, code, recorded))
        context = (label, code, recorded, out, err[-600:])
        assert (code == 0) == recorded, context
        assert code in (0, 143, -signal.SIGTERM), context
        if recorded:
            assert "nothing was recorded" not in err and "Traceback" not in err, context
            if sent:
                verify_json(attempt.log)
    assert any(sent and recorded for _, sent, _, recorded in outcomes), outcomes


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_right_after_the_confirmation_is_printed_still_exits_0_without_traceback(
    big_log: Path, tmp_path: Path, signum: int
) -> None:
    signalled = 0
    for label, sent, code, out, err, recorded, _ in _sweep(
        big_log, tmp_path, signum, after_confirmation=(0, 0.002, 0.005, 0.01)
    ):
        context = (label, sent, code, out, err[-600:])
        assert recorded and "imported 1 event" in out, context
        assert code == 0, context
        assert "Traceback" not in err and "ledger: error" not in err, context
        signalled += sent
    assert signalled, "every import had exited before its signal was sent"


# ---- 3. a log that is not a regular file ------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "f.jsonl"
    os.mkfifo(path)
    return path


FIFO_COMMANDS = [["balance"], ["verify"], ["history"], ["deposit", "x", "1"]]


@pytest.mark.parametrize("command", FIFO_COMMANDS, ids=[" ".join(c) for c in FIFO_COMMANDS])
def test_named_pipe_as_the_log_exits_3_at_once_naming_it(fifo: Path, log: Path, command: list[str]) -> None:
    result = bounded(["-f", str(fifo), *command], log)
    assert result.returncode == 3, (result.stdout, result.stderr)
    line = one_message(result.stderr)
    assert re.search(r"fifo|pipe", line.replace(str(fifo.parent), "…"), re.IGNORECASE), line
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["balance"], ["deposit", "x", "1"]], ids=["balance", "deposit"])
def test_symlink_to_a_named_pipe_as_the_log_exits_3_at_once(fifo: Path, log: Path, command: list[str]) -> None:
    link = fifo.parent / "link.jsonl"
    link.symlink_to(fifo)
    result = bounded(["-f", str(link), *command], log)
    assert result.returncode == 3, (result.stdout, result.stderr)
    line = one_message(result.stderr)
    assert re.search(r"fifo|pipe", line.replace(str(fifo.parent), "…"), re.IGNORECASE), line


@pytest.fixture
def dev_null_left_clean() -> Iterator[tuple[Path, Path]]:
    """/dev/null's would-be lock and cache paths, absent before the test and removed after it."""
    lock, cache = Path("/dev/null.lock"), Path("/dev/null.cache")

    def clean() -> None:
        if lock.is_file() and not lock.is_symlink():
            lock.unlink()
        if cache.is_dir() and not cache.is_symlink():
            shutil.rmtree(cache)

    clean()
    yield lock, cache
    clean()


@pytest.mark.parametrize("command", [["balance"], ["deposit", "x", "1"]], ids=["balance", "deposit"])
def test_character_device_as_the_log_exits_3_and_leaves_nothing_beside_it(
    dev_null_left_clean: tuple[Path, Path], log: Path, command: list[str]
) -> None:
    result = bounded(["-f", "/dev/null", *command], log)
    assert result.returncode == 3, (result.stdout, result.stderr)
    line = one_message(result.stderr)
    assert "device" in line.lower(), line
    lock, cache = dev_null_left_clean
    assert not os.path.lexists(lock) and not os.path.lexists(cache)


# ---- 4. no tracebacks -------------------------------------------------------------------------


def test_history_last_larger_than_any_machine_integer_shows_every_event(log: Path) -> None:
    three_events(log)
    result = run_installed(["history", "--last", HUGE], log)
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["1", "2", "3"]


def test_balance_until_a_seq_past_int64_without_cache_is_the_whole_log(log: Path) -> None:
    three_events(log)
    whole = ok(log, "balance")
    result = run_installed(["balance", "--until", PAST_INT64, "--no-cache"], log)
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert result.stdout == whole.stdout == "acct\t60\n"


def test_history_until_a_seq_past_int64_is_the_whole_log(log: Path) -> None:
    three_events(log)
    result = run_installed(["history", "--until", PAST_INT64], log)
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["1", "2", "3"]


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_or_help_to_a_full_device_exits_3_with_one_line(log: Path, flag: str) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [LEDGER, flag], env=env_for(log), stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert result.returncode == 3, result.stderr
    one_message(result.stderr)


@pytest.mark.parametrize("command", ["balance", "history", "replay", "verify", "accounts"])
def test_read_with_stdout_closed_exits_3_with_one_line(log: Path, command: str) -> None:
    three_events(log)
    before = log.read_bytes()
    result = shell(log, ">&-", command)
    assert result.returncode == 3, result.stderr
    one_message(result.stderr)
    assert log.read_bytes() == before


def test_import_with_stdin_closed_exits_2_with_one_line_and_records_nothing(log: Path) -> None:
    three_events(log)
    before = log.read_bytes()
    result = shell(log, "<&-", "import")
    assert result.returncode == 2, (result.stdout, result.stderr)
    one_message(result.stderr)
    assert log.read_bytes() == before


@pytest.fixture(scope="session")
def latin1_locale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str] | None:
    """Environment for an en_US.ISO-8859-1 locale compiled into a private LOCPATH, or None."""
    if shutil.which("localedef") is None:
        return None
    folder = tmp_path_factory.mktemp("locale")
    compiled = folder / "en_US.ISO-8859-1"
    subprocess.run(["localedef", "-i", "en_US", "-f", "ISO-8859-1", str(compiled)], capture_output=True, timeout=120)
    if not compiled.is_dir():
        return None
    return {"LOCPATH": str(folder), "LANG": "en_US.ISO-8859-1", "LC_ALL": "en_US.ISO-8859-1"}


def _non_utf8_env(kind: str, locale_env: dict[str, str] | None) -> dict[str, str]:
    if kind == "PYTHONIOENCODING":
        return {"PYTHONIOENCODING": "latin-1"}
    if locale_env is None:
        pytest.skip("localedef cannot build en_US.ISO-8859-1 here")
    return locale_env


def _run_bytes(log: Path, args: Sequence[str], extra: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    environment = env_for(log, **extra)
    if "LC_ALL" in extra:  # the locale alone decides the encoding
        for name in ("PYTHONIOENCODING", "PYTHONUTF8"):
            environment.pop(name, None)
    return subprocess.run([LEDGER, *args], env=environment, capture_output=True, timeout=60)


@pytest.mark.parametrize("kind", ["PYTHONIOENCODING", "locale"])
def test_non_ascii_account_prints_as_utf8_whatever_the_stdout_encoding(
    log: Path, kind: str, latin1_locale: dict[str, str] | None
) -> None:
    extra = _non_utf8_env(kind, latin1_locale)
    ok(log, "deposit", "Ωmega", "5")
    tsv = _run_bytes(log, ["balance"], extra)
    assert tsv.returncode == 0, tsv.stderr
    assert b"Traceback" not in tsv.stderr
    assert tsv.stdout == "Ωmega\t5\n".encode()
    as_json = _run_bytes(log, ["balance", "--format", "json"], extra)
    assert as_json.returncode == 0, as_json.stderr
    assert b"Traceback" not in as_json.stderr
    report = json.loads(as_json.stdout.decode("utf-8"))
    assert [(r["account"], r["balance"]) for r in report["accounts"]] == [("Ωmega", "5")]


# ---- 5. stderr closed: messages never land on stdout ------------------------------------------


def test_refused_write_with_stderr_closed_exits_1_and_prints_nothing_on_stdout(log: Path) -> None:
    three_events(log)
    result = shell(log, "2>&-", "withdraw", "nope", "5")
    assert result.returncode == 1
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["replay"], ["balance", "--until", "1"]], ids=["replay", "balance --until 1"])
def test_read_with_stderr_closed_prints_only_the_data_lines(log: Path, command: list[str]) -> None:
    ok(log, "deposit", "acct", "10")
    ok(log, "deposit", "other", "5")
    expected = ok(log, *command)
    assert expected.stderr.startswith("ledger: ")  # the note that must not move to stdout
    result = shell(log, "2>&-", *command)
    assert result.returncode == 0
    assert result.stdout == expected.stdout
    assert all(re.fullmatch(r"[^\t]+\t-?[0-9.]+", line) for line in result.stdout.splitlines()), result.stdout
    assert "ledger:" not in result.stdout


def test_named_pipe_as_the_log_with_stderr_closed_exits_3_and_prints_nothing(fifo: Path, log: Path) -> None:
    try:
        result = shell(log, "2>&-", "-f", str(fifo), "balance", timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("`ledger -f FIFO balance 2>&-` hung for more than 10s")
    assert result.returncode == 3
    assert result.stdout == ""


# ---- 6. stdout and stderr both closed ---------------------------------------------------------


def test_write_with_stdout_and_stderr_closed_records_one_clean_line(log: Path) -> None:
    result = shell(log, ">&- 2>&-", "deposit", "a", "1")
    assert result.returncode == 0
    data = log.read_bytes()
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    rows = events(log)
    assert [(r["type"], r["account"], r["amount"]) for r in rows] == [("deposited", "a", "1")]
    assert_chain(rows)
    verify_json(log)
    lock = Path(f"{log}.lock")
    assert not lock.exists() or lock.read_bytes() == b""
    refused = shell(log, ">&- 2>&-", "withdraw", "a", "5")
    assert refused.returncode == 1
    assert log.read_bytes() == data
    assert not lock.exists() or lock.read_bytes() == b""
