"""The pager (issue 13): long output on a terminal (a pty here) goes through $PAGER, else
`less -FRX`, in the format a terminal gets (the table); never in a pipe, never with
`--no-pager` before the command, nor for a write, nor when PAGER is empty or `cat`."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_installed
from tests.test_installed import BIN, clean_env


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ledger with a pty for stdin, stdout and stderr: its exit code and what the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: ledger on the pty
        os.execve(str(BIN / "ledger"), ["ledger", *args], env)
    shown = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # (EIO: the child is gone)
            break
        if not chunk:
            break
        shown += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


@pytest.fixture
def books(tmp_path: Path) -> Path:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "assets:bank", "100"), ("withdraw", "assets:bank", "7.25", "-m", "lunch")):
        assert run_installed(list(args), log).returncode == 0
    return log


def test_a_terminal_gets_long_output_through_the_pager(books: Path, tmp_path: Path) -> None:
    paged = tmp_path / "paged.txt"
    env = clean_env(LEDGER_CLI_FILE=str(books), PAGER=f"cat > {paged}", TERM="xterm", COLUMNS="100")
    code, shown = on_a_terminal(["history"], env)
    assert code == 0
    text = paged.read_text()
    assert "lunch" in text and "Seq" in text  # the table a terminal gets, not TSV
    assert "lunch" not in shown
    code, _ = on_a_terminal(["balance"], env)
    assert code == 0 and "assets:bank" in paged.read_text()


def test_never_in_a_pipe_nor_with_no_pager_nor_for_a_write(books: Path, tmp_path: Path) -> None:
    paged = tmp_path / "paged.txt"
    env = clean_env(LEDGER_CLI_FILE=str(books), PAGER=f"cat > {paged}", TERM="xterm")
    piped = subprocess.run([str(BIN / "ledger"), "history"], env=env, capture_output=True, text=True)
    assert piped.returncode == 0 and "lunch" in piped.stdout and not paged.exists()
    code, shown = on_a_terminal(["--no-pager", "history"], env)
    assert code == 0 and "lunch" in shown and not paged.exists()
    code, shown = on_a_terminal(["deposit", "assets:bank", "1"], env)
    assert code == 0 and "recorded seq 3" in shown and not paged.exists()
    for off in ("", "cat"):
        code, shown = on_a_terminal(["history"], {**env, "PAGER": off})
        assert code == 0 and "lunch" in shown and not paged.exists()


def test_without_pager_set_it_is_less_frx(books: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    less = folder / "less"
    less.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "args.txt"}\ncat > {tmp_path / "paged.txt"}\n')
    less.chmod(0o755)
    env = clean_env(LEDGER_CLI_FILE=str(books), PATH=f"{folder}:{os.environ['PATH']}", TERM="xterm")
    env.pop("PAGER", None)
    code, _ = on_a_terminal(["accounts"], env)
    assert code == 0
    assert (tmp_path / "args.txt").read_text().split() == ["-FRX"]
    assert "assets:bank" in (tmp_path / "paged.txt").read_text()
