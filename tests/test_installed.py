"""End-to-end tests of the installed console scripts, each run as a separate process.

Always through conftest's BIN (the venv's scripts), never a bare `ledger` from PATH: many
machines have Ledger 3's `ledger` binary there.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli.config import ledger_at
from ledger_cli.domain import Deposit
from tests.conftest import BIN

D = Decimal
Run = Callable[..., "subprocess.CompletedProcess[str]"]


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any ledger variables, plus `extra`."""
    dropped = ("LEDGER_FILE", "LEDGER_CLI_FILE", "LEDGER_CLI_LOCK_TIMEOUT", "NO_COLOR", "FORCE_COLOR")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(extra)
    return env


def run(argv: Sequence[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=60, **kwargs)  # type: ignore[call-overload]


ENTRY_POINTS = {
    "ledger": [str(BIN / "ledger")],
    "ledger-cli": [str(BIN / "ledger-cli")],
    "python -m ledger_cli": [sys.executable, "-m", "ledger_cli"],
}


# ---- the three ways in ---------------------------------------------------------------------------


def test_installed_ledger_script_deposits_and_reports_the_balance(installed: Run, log: Path) -> None:
    out = installed("deposit", "acct1", "50")
    assert (out.returncode, out.stderr) == (0, "")
    assert "1" in out.stdout and len(out.stdout.splitlines()) == 1
    out = installed("balance")
    assert (out.returncode, out.stderr) == (0, "")
    name, amount = out.stdout.strip().split("\t")
    assert (name, D(amount)) == ("acct1", D(50))
    assert len(log.read_text().splitlines()) == 1


@pytest.mark.parametrize("entry", list(ENTRY_POINTS), ids=list(ENTRY_POINTS))
def test_every_entry_point_runs_deposit_and_balance(entry: str, tmp_path: Path) -> None:
    log = tmp_path / "books" / "ledger.jsonl"
    env = clean_env(LEDGER_CLI_FILE=str(log))
    argv = ENTRY_POINTS[entry]
    out = run([*argv, "deposit", "acct1", "50", "-m", "first"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = run([*argv, "transfer", "acct1", "savings", "12.50", "-k", "k1", "-q"], env, cwd=tmp_path)
    assert (out.returncode, out.stdout) == (0, "")
    out = run([*argv, "balance", "--json"], env, cwd=tmp_path)
    assert out.returncode == 0 and out.stderr == ""
    data = json.loads(out.stdout)
    assert {r["account"]: D(r["balance"]) for r in data["accounts"]} == {"acct1": D("37.50"), "savings": D("12.50")}
    assert D(data["total"]) == 50
    out = run([*argv, "withdraw", "acct1", "100"], env, cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == "ledger: error: insufficient funds: acct1 has 37.50, needs 100"
    out = run([*argv, "--version"], env, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip()


def test_installed_csv_uses_crlf_line_ends(tmp_path: Path) -> None:
    log = tmp_path / "ledger.jsonl"
    env = clean_env(LEDGER_CLI_FILE=str(log))
    assert run([str(BIN / "ledger"), "deposit", "a", "1", "-q"], env).returncode == 0
    out = subprocess.run([str(BIN / "ledger"), "balance", "--format", "csv"], env=env, capture_output=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout == b"account,balance,open\r\na,1,true\r\n"


# ---- terminals and NO_COLOR -------------------------------------------------------------------------


def run_on_terminal(args: Sequence[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the installed script with stdout and stderr on a pseudo-terminal; return (code, output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([str(BIN / "ledger"), *args], stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower, env=env)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colour_codes(text: str) -> list[str]:
    """The SGR parameters in `text` that set a colour (foreground or background)."""
    found = []
    for params in _SGR.findall(text):
        for p in params.split(";"):
            if p and (30 <= int(p) <= 49 or 90 <= int(p) <= 107):
                found.append(p)
    return found


@pytest.fixture
def terminal_env(tmp_path: Path) -> dict[str, str]:
    log = tmp_path / "ledger.jsonl"
    ledger_at(log).execute(Deposit("acct1", D("50")))
    return clean_env(LEDGER_CLI_FILE=str(log), TERM="xterm-256color", COLUMNS="100")


def test_default_format_on_a_terminal_is_a_table(terminal_env: dict[str, str]) -> None:
    code, output = run_on_terminal(["balance"], terminal_env)
    assert code == 0
    assert "acct1" in output and "\t" not in output
    assert "┃" in output or "│" in output or "|" in output


def test_no_color_removes_colour_from_tables_and_messages(terminal_env: dict[str, str]) -> None:
    # Control: on a terminal without NO_COLOR, the help is coloured...
    code, output = run_on_terminal(["--help"], terminal_env)
    assert code == 0 and colour_codes(output)
    no_color = {**terminal_env, "NO_COLOR": "1"}
    # ...and with NO_COLOR it is not, nor is an error message, nor any table.
    code, output = run_on_terminal(["--help"], no_color)
    assert code == 0 and colour_codes(output) == []
    code, output = run_on_terminal(["deposit", "acct1", "--bogus"], no_color)
    assert code == 2 and colour_codes(output) == []
    for args in (["balance"], ["balance", "--format", "table"], ["accounts", "--format", "table"],
                 ["history", "--format", "table"], ["replay", "--format", "table"]):  # fmt: skip
        code, output = run_on_terminal(args, no_color)
        assert code == 0 and "acct1" in output
        assert colour_codes(output) == [], (args, output)


def test_no_color_table_in_a_pipe_has_no_escape_codes(installed: Run) -> None:
    assert installed("deposit", "acct1", "5").returncode == 0
    out = installed("balance", "--format", "table", env={"NO_COLOR": "1"})
    assert out.returncode == 0 and "acct1" in out.stdout
    assert "\x1b[" not in out.stdout


# ---- no traceback, ever, for an expected failure ----------------------------------------------------

BAD_INPUTS: dict[str, tuple[list[str], int]] = {
    "bad amount": (["deposit", "a", "1e3"], 2),
    "negative amount": (["deposit", "a", "-5"], 2),
    "empty amount": (["deposit", "a", ""], 2),
    "huge amount": (["deposit", "a", "9" * 40], 2),
    "bad account": (["deposit", "a b", "1"], 2),
    "bidi account": (["deposit", "a\u202eb", "1"], 2),
    "long memo": (["deposit", "a", "1", "-m", "x" * 1001], 2),
    "control memo": (["deposit", "a", "1", "-m", "a\x1bb"], 2),
    "long key": (["deposit", "a", "1", "-k", "k" * 201], 2),
    "short funds": (["withdraw", "acct1", "1000"], 1),
    "unknown account": (["withdraw", "ghost", "1"], 1),
    "self transfer": (["transfer", "acct1", "acct1", "1"], 1),
    "reverse text": (["reverse", "abc"], 2),
    "reverse missing": (["reverse", "999"], 1),
    "bad until": (["balance", "--until", "yesterday"], 2),
    "bad since": (["history", "--since", "2025-02-30"], 2),
    "bad format": (["balance", "--format", "xml"], 2),
    "unknown balance": (["balance", "ghost"], 1),
    "unknown history": (["history", "ghost"], 1),
    "bad last": (["history", "--last", "-3"], 2),
    "unknown command": (["frobnicate"], 2),
    "missing argument": (["transfer", "a"], 2),
    "bad option": (["balance", "--bogus"], 2),
    "bad lock timeout": (["deposit", "acct1", "1"], 2),
}


def run_many(cases: dict[str, tuple[list[str], dict[str, str]]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run many independent processes at once (process start-up dominates these tests)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(run, argv, env) for name, (argv, env) in cases.items()}
        return {name: future.result() for name, future in futures.items()}


def test_expected_failures_print_no_traceback(tmp_path: Path) -> None:
    seeded = tmp_path / "seed.jsonl"
    ledger_at(seeded).execute(Deposit("acct1", D("10")))
    before = seeded.read_bytes()
    cases = {}
    for i, (name, (args, _)) in enumerate(BAD_INPUTS.items()):
        log = tmp_path / f"case{i}" / "ledger.jsonl"
        log.parent.mkdir()
        log.write_bytes(before)
        env = clean_env(LEDGER_CLI_FILE=str(log))
        if name == "bad lock timeout":
            env["LEDGER_CLI_LOCK_TIMEOUT"] = "soon"
        cases[name] = ([str(BIN / "ledger"), *args], env)
    results = run_many(cases)
    wrong = {}
    for i, (name, out) in enumerate(results.items()):
        code = BAD_INPUTS[name][1]
        log = tmp_path / f"case{i}" / "ledger.jsonl"
        if (out.returncode != code or "Traceback" in out.stderr + out.stdout or out.stdout != ""
                or out.stderr.strip() == "" or log.read_bytes() != before):  # fmt: skip
            wrong[name] = (out.returncode, out.stdout, out.stderr[-300:])
    assert wrong == {}


def _garbage_logs(tmp_path: Path) -> dict[str, Path]:
    journal = tmp_path / "main.journal"
    journal.write_text("2024-01-01 opening\n    assets:bank  10\n    equity\n")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage\n")
    edited = tmp_path / "edited.jsonl"
    ledger_at(edited).execute(Deposit("a", D("10")))
    edited.write_text(edited.read_text().replace('"amount":"10"', '"amount":"11"'))
    not_json = tmp_path / "not.jsonl"
    not_json.write_text('{"this is": not json}\n')
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    return {"journal": journal, "binary": binary, "edited": edited, "not json": not_json, "folder": folder}


UNUSABLE = ["journal", "binary", "edited", "not json", "folder"]
USES = {"balance": ["balance"], "history": ["history"], "verify": ["verify"], "deposit": ["deposit", "a", "1"]}


def test_unusable_logs_exit_3_without_traceback_or_change(tmp_path: Path) -> None:
    paths = _garbage_logs(tmp_path)
    before = {kind: path.read_bytes() for kind, path in paths.items() if path.is_file()}
    cases = {f"{kind} {use}": ([str(BIN / "ledger"), "-f", str(paths[kind]), *args], clean_env())
             for kind in UNUSABLE for use, args in USES.items()}  # fmt: skip
    results = run_many(cases)
    wrong = {name: (out.returncode, out.stderr[-300:]) for name, out in results.items()
             if out.returncode != 3 or "Traceback" in out.stderr or out.stderr.strip() == ""}  # fmt: skip
    assert wrong == {}
    assert {kind: paths[kind].read_bytes() for kind in before} == before


def test_journal_given_by_mistake_is_named_as_such(tmp_path: Path) -> None:
    path = _garbage_logs(tmp_path)["journal"]
    out = run([str(BIN / "ledger"), "-f", str(path), "deposit", "a", "1"], clean_env())
    assert out.returncode == 3 and "not a ledger log" in out.stderr and "journal" in out.stderr


# ---- where the log lives ----------------------------------------------------------------------------


def test_default_log_lives_in_the_platform_data_folder(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "xdg-data"
    home.mkdir()
    env = clean_env(HOME=str(home), XDG_DATA_HOME=str(data))
    out = run([str(BIN / "ledger"), "deposit", "acct1", "5"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    expected = data / "ledger-cli" / "ledger.jsonl"
    assert len(expected.read_text().splitlines()) == 1
    out = run([str(BIN / "ledger"), "balance", "--json"], env, cwd=tmp_path)
    assert D(json.loads(out.stdout)["total"]) == 5


def test_ledger_file_variable_is_never_read_or_written(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "xdg-data"
    home.mkdir()
    journal = tmp_path / "hledger.journal"
    journal.write_text("2024-01-01 opening\n    assets:bank  10\n    equity\n")
    before = journal.read_bytes()
    env = clean_env(HOME=str(home), XDG_DATA_HOME=str(data), LEDGER_FILE=str(journal))
    out = run([str(BIN / "ledger"), "balance"], env, cwd=tmp_path)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    out = run([str(BIN / "ledger"), "deposit", "acct1", "5"], env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert journal.read_bytes() == before
    assert (data / "ledger-cli" / "ledger.jsonl").exists()


def test_environment_variable_beats_the_platform_folder(tmp_path: Path) -> None:
    data = tmp_path / "xdg-data"
    log = tmp_path / "mine.jsonl"
    env = clean_env(HOME=str(tmp_path), XDG_DATA_HOME=str(data), LEDGER_CLI_FILE=str(log))
    assert run([str(BIN / "ledger"), "deposit", "acct1", "5"], env).returncode == 0
    assert log.exists() and not data.exists()


def test_file_option_beats_the_environment_variable(tmp_path: Path) -> None:
    env_log, option_log = tmp_path / "env.jsonl", tmp_path / "option.jsonl"
    env = clean_env(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"), LEDGER_CLI_FILE=str(env_log))
    assert run([str(BIN / "ledger"), "-f", str(option_log), "deposit", "acct1", "5"], env).returncode == 0
    assert run([str(BIN / "ledger"), "--file", str(option_log), "open", "b"], env).returncode == 0
    assert len(option_log.read_text().splitlines()) == 2 and not env_log.exists()


def test_missing_log_is_an_empty_ledger(tmp_path: Path) -> None:
    log = tmp_path / "nowhere" / "ledger.jsonl"
    env = clean_env(LEDGER_CLI_FILE=str(log))
    for args in (["balance"], ["history"], ["accounts"], ["verify"], ["replay", "--json"]):
        out = run([str(BIN / "ledger"), *args], env)
        assert out.returncode == 0 and "error" not in out.stderr, (args, out.stderr)
    assert not log.parent.exists()


def test_first_write_creates_folders_0700_and_file_0600_even_with_umask_000(tmp_path: Path) -> None:
    log = tmp_path / "a" / "b" / "c" / "ledger.jsonl"
    out = subprocess.run([str(BIN / "ledger"), "deposit", "acct1", "5"], env=clean_env(LEDGER_CLI_FILE=str(log)),
                         capture_output=True, text=True, timeout=60, umask=0)  # fmt: skip
    assert out.returncode == 0, out.stderr
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert log.stat().st_mode & 0o777 == 0o600


# ---- local time through TZ ----------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "seq"), [("JST-9", 1), ("EST5", 2)])
def test_until_a_date_uses_the_tz_of_the_process(tmp_path: Path, zone: str, seq: int) -> None:
    log = tmp_path / "ledger.jsonl"
    for ts, amount in [("2024-12-31T14:00:00.000000Z", "1"), ("2025-01-01T04:00:00.000000Z", "2"),
                       ("2025-01-01T06:00:00.000000Z", "4")]:  # fmt: skip
        ledger_at(log, clock=lambda ts=ts: ts).execute(Deposit("a", D(amount)))
    out = run([str(BIN / "ledger"), "balance", "--until", "2025-01-01", "--json"],
              clean_env(LEDGER_CLI_FILE=str(log), TZ=zone))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["seq"] == seq
