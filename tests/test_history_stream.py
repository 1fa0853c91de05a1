"""History of a known-good log streams (issue 9): `history | head -1` does not wait for the
whole log, jsonl rows are the log's own lines, and a log not known to be good still prints
nothing when it fails half-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger_cli import accel, histories, store
from ledger_cli.config import ledger_at
from ledger_cli.domain import Deposit, Open, Reverse, Transfer, Withdraw
from tests.conftest import Runner

BIN = Path(sys.executable).parent


def build(path: Path, count: int) -> None:
    ledger = ledger_at(path)
    ledger.execute(Open("cash"))
    commands = [
        (n, Deposit("cash", Decimal("1.5"), memo=f'memo "{n}" \\ é' if n % 3 else None, key=f"k{n}" if n % 2 else None))
        for n in range(count)
    ]
    ledger.import_commands(commands)
    ledger.execute(Transfer("cash", "bank", Decimal(2)))
    ledger.execute(Withdraw("bank", Decimal("0.5")))
    ledger.execute(Reverse(3))


@pytest.fixture(params=["native", "python"])
def path_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setattr(accel, "_found", [None])
    elif accel.native() is None:
        pytest.skip("the C extension is not built here")
    return str(request.param)


def test_history_jsonl_is_the_log_itself(ledger: Runner, path_kind: str) -> None:
    build(ledger.log, 300)
    out = ledger("history", "--format", "jsonl")
    assert out.code == 0 and out.stdout.encode() == ledger.log.read_bytes()
    tail = ledger("history", "--format", "jsonl", "--last", "4")
    assert tail.stdout.encode() == b"".join(ledger.log.read_bytes().splitlines(keepends=True)[-4:])
    since = ledger("history", "--format", "jsonl", "--since", "290")
    assert [json.loads(line)["seq"] for line in since.stdout.splitlines()] == list(range(290, 305))


def test_history_jsonl_of_an_account_is_each_line_with_its_running_balance(ledger: Runner, path_kind: str) -> None:
    build(ledger.log, 20)
    lines = ledger.log.read_bytes().splitlines()
    out = ledger("history", "bank", "--format", "jsonl")
    rows = out.stdout.splitlines()
    assert [row.encode()[: row.encode().rindex(b',"balance"')] + b"}" for row in rows] == [
        line for line in lines if b'"bank"' in line
    ]
    assert [json.loads(row)["balance"] for row in rows] == ["2", "1.5", "1.5"][: len(rows)]


class Recorder:
    """A stdout that notes, at its first write, how many blocks of the log had been read."""

    def __init__(self, reads: list[int]) -> None:
        self.reads = reads
        self.first_at: int | None = None
        self.data = bytearray()
        self.buffer = self

    def _note(self) -> None:
        if self.first_at is None:
            self.first_at = len(self.reads)

    def write(self, data: Any) -> int:
        self._note()
        self.data += data.encode() if isinstance(data, str) else data
        return len(data)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _history_reads(
    log: Path, monkeypatch: pytest.MonkeyPatch, *, no_cache: bool = False, fmt: str = "jsonl"
) -> tuple[Recorder, int]:
    reads: list[int] = []
    real = store.LogScan.whole_blocks

    def counted(self: store.LogScan) -> Any:
        for block in real(self):
            reads.append(1)
            yield block

    monkeypatch.setattr(store.LogScan, "whole_blocks", counted)
    out = Recorder(reads)
    monkeypatch.setattr(sys, "stdout", out)
    assert histories.history(str(log), fmt=fmt, no_cache=no_cache) == 0
    return out, len(reads)


def test_a_known_good_log_prints_its_first_events_before_reading_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "big.jsonl"
    build(log, 3000)  # a few 64 KiB blocks
    assert ledger_at(log).known_good()  # the writer sealed it
    out, blocks = _history_reads(log, monkeypatch)
    assert blocks > 5 and out.first_at is not None and out.first_at <= 2  # 64 KiB of rows at a time
    assert bytes(out.data) == log.read_bytes()


def test_a_log_not_known_to_be_good_is_verified_to_the_end_before_anything_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tsv: a vouch (one verified pass), then the walk streams; the log is sealed after."""
    log = tmp_path / "big.jsonl"
    build(log, 3000)
    log.write_bytes(log.read_bytes())  # the same bytes, rewritten by someone else: the seal no longer holds
    assert not ledger_at(log).known_good()
    out, blocks = _history_reads(log, monkeypatch, fmt="tsv")
    assert ledger_at(log).known_good()  # that whole verified read sealed it: the next one streams
    again, one_pass = _history_reads(log, monkeypatch, fmt="tsv")
    assert one_pass > 5 and blocks == 2 * one_pass  # verified first, then walked
    assert out.first_at is not None and out.first_at >= one_pass and again.first_at <= 2  # type: ignore[operator]
    assert bytes(out.data) == bytes(again.data) and out.data.count(b"\n") == 3004


def test_a_jsonl_history_of_a_log_not_known_to_be_good_is_held_back_for_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jsonl rows are the log's bytes: one verified walk into a spool beats two passes."""
    log = tmp_path / "big.jsonl"
    build(log, 3000)
    data = log.read_bytes()
    log.write_bytes(data)
    out, blocks = _history_reads(log, monkeypatch)
    assert blocks > 5 and out.first_at == blocks and bytes(out.data) == data
    assert ledger_at(log).known_good()  # the whole walk sealed it
    again, one_pass = _history_reads(log, monkeypatch)
    assert one_pass == blocks and again.first_at <= 2 and bytes(again.data) == data  # type: ignore[operator]


def test_without_checkpoints_rows_are_held_back_until_the_whole_log_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "big.jsonl"
    build(log, 3000)
    out, blocks = _history_reads(log, monkeypatch, no_cache=True)  # --no-cache: no seal to trust
    assert blocks > 5 and out.first_at == blocks
    assert bytes(out.data) == log.read_bytes()


def test_a_tampered_log_still_prints_nothing(ledger: Runner) -> None:
    build(ledger.log, 3000)
    lines = ledger.log.read_bytes().splitlines(keepends=True)
    lines[2500] = lines[2500].replace(b'"amount":"1.5"', b'"amount":"9.5"')
    ledger.log.write_bytes(b"".join(lines))
    out = ledger("history", "--format", "jsonl")
    assert out.code == 3 and out.stdout == "" and "line 2501" in out.stderr


def test_history_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    log = tmp_path / "big.jsonl"
    build(log, 3000)
    # As typed at a terminal: SIGINT at its default in the child even when this suite runs in the
    # background (`cmd &` starts with SIGINT ignored, children inherit that, and Python then
    # installs no Ctrl-C handler: the program rightly keeps ignoring it).
    history = subprocess.Popen(
        [BIN / "ledger", "-f", log, "history", "--format", "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert history.stdout is not None and history.stderr is not None
    first = history.stdout.readline()
    history.stdout.close()  # `| head -1`
    assert history.wait(timeout=60) == 0 and history.stderr.read() == b""
    assert first == log.read_bytes().splitlines(keepends=True)[0]


def test_a_torn_tail_is_warned_of_once_though_the_log_is_read_twice(ledger: Runner) -> None:
    build(ledger.log, 50)
    whole = ledger.log.read_bytes()
    ledger.log.write_bytes(whole + b'{"account":"ca')
    out = ledger("history", "--format", "jsonl")
    assert out.code == 0 and out.stdout.encode() == whole
    assert out.stderr.count("warning: ignoring 14 bytes of an interrupted write") == 1, out.stderr


def test_ctrl_c_in_the_middle_of_a_streamed_history_exits_130(tmp_path: Path) -> None:
    import signal

    log = tmp_path / "big.jsonl"
    build(log, 20000)
    # As typed at a terminal: SIGINT at its default in the child even when this suite runs in the
    # background (`cmd &` starts with SIGINT ignored, children inherit that, and Python then
    # installs no Ctrl-C handler: the program rightly keeps ignoring it).
    history = subprocess.Popen(
        [BIN / "ledger", "-f", log, "history", "--format", "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert history.stdout is not None
    first = history.stdout.read(4096)  # it is streaming: the pipe is full, it waits to write
    history.send_signal(signal.SIGINT)
    _, err = history.communicate(timeout=60)
    assert history.returncode == 130 and err.decode() == "ledger: error: interrupted\n"
    assert first == log.read_bytes()[:4096]


def test_a_streamed_history_into_a_closed_stdout_is_one_error_line(tmp_path: Path) -> None:
    log = tmp_path / "big.jsonl"
    build(log, 300)
    done = subprocess.run(
        [BIN / "ledger", "-f", log, "history", "--format", "jsonl"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),  # `>&-`
    )  # fmt: skip
    assert (
        done.returncode == 3
        and done.stderr.decode() == "ledger: error: cannot write to standard output: it is closed\n"
    )
