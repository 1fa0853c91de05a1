"""`ledger export` checked by the real tools (issue 12): random dated histories exported as an
hledger journal pass `hledger check -s ordereddates` (hledger 1.25, Debian's), hledger's and
Ledger 3's balances equal ours account by account, and an edited balance assertion is caught
by each tool, which proves the assertions are live. `.ci/run` installs both tools; without
them these tests are skipped saying so."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import exports
from ledger_cli.config import ledger_at
from ledger_cli.errors import InvalidValue, RuleViolation
from tests.conftest import run_installed
from tests.test_bitemporal_model import ACCOUNTS, Clock, Ids, command_for, scenarios, utc  # noqa: F401 (TZ=UTC)
from tests.test_v1_dates import LOG as V1_LOG

HLEDGER, LEDGER3 = shutil.which("hledger"), shutil.which("ledger") or "/usr/bin/ledger"
needs_tools = pytest.mark.skipif(
    HLEDGER is None or not os.path.exists(LEDGER3),
    reason="hledger and Ledger 3 are not installed (Debian: apt-get install hledger ledger; .ci/run does)",
)
UTF8 = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}  # hledger 1.25 reads non-ASCII only so
NAMES = ("acct1", "Acct1", "café:naïve", "a_b.c", "2024-x", "खाता", "中文:账户", "x:y:z")
FINE = "0.000000000000000001"


def hledger(journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HLEDGER), "-f", str(journal), *args], capture_output=True, text=True, env=UTF8)


def ledger3(journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEDGER3, "-f", str(journal), *args], capture_output=True, text=True, env=UTF8)


def tool_balances(output: str) -> dict[str, Decimal]:
    """`AMOUNT  ACCOUNT` lines (hledger bal --flat -N, Ledger 3 bal --flat --no-total) as a dict."""
    found = {}
    for line in output.splitlines():
        match = re.fullmatch(r"\s*(-?[0-9.]+)\s+(\S.*)", line)
        if match:
            found[match.group(2).strip()] = Decimal(match.group(1))
    return found


def model_events(log: Path) -> list[dict[str, Any]]:
    """The log's events as dicts (amount a Decimal); a v1 line's date is its ts's (TZ=UTC)."""
    rows = []
    for line in log.read_bytes().splitlines() if log.exists() else []:
        raw = json.loads(line)
        amount = Decimal(raw["amount"]) if "amount" in raw else None
        rows.append({**raw, "date": raw.get("date") or raw["ts"][:10], "amount": amount, "account": raw.get("account"),
                     "to": raw.get("to"), "target": raw.get("target")})  # fmt: skip
    return rows


def build(folder: Path, steps: list[tuple[Any, ...]], names: tuple[str, ...], fine: bool, v1: bool) -> Any:
    """Run a scenario's steps on `names` instead of a, b, c (amounts a hair above their value
    when `fine`: 18 decimals), after the v1 lines of test_v1_dates when `v1`; refused steps are
    skipped, as a user's would be."""
    rename = dict(zip(ACCOUNTS, names))
    log = folder / "books.jsonl"
    if v1:
        log.write_bytes(V1_LOG)
    ids = Ids()
    ids.n = 1000  # (after the v1 lines' ids)
    ledger = ledger_at(log, clock=Clock(), new_id=ids)
    for step in steps:
        step = tuple(rename.get(part, part) if isinstance(part, str) else part for part in step)
        if fine and step[0] in ("deposit", "withdraw", "transfer"):
            step = (*step[:-2], str(Decimal(step[-2]) + Decimal(FINE)), step[-1])
        try:
            ledger.execute(command_for(step, model_events(log) if log.exists() else []))
        except (RuleViolation, InvalidValue):
            pass
    return ledger


def counters(log: Path, as_of: str | None) -> dict[str, Decimal]:
    """The counter-accounts' balances from the events: money in from outside is taken from
    income, money out goes to expenses, and a reversal gives back to the one its target used."""
    events = model_events(log)
    by_seq = {ev["seq"]: ev for ev in events}
    totals = {exports.INCOME: Decimal(0), exports.EXPENSE: Decimal(0)}
    for ev in events:
        if as_of is not None and ev["date"] > as_of:
            continue
        kind = by_seq[ev["target"]]["type"] if ev["type"] == "reversed" else ev["type"]
        sign = -1 if ev["type"] == "reversed" else 1
        if kind == "deposited":
            totals[exports.INCOME] -= sign * ev["amount"]
        elif kind == "withdrawn":
            totals[exports.EXPENSE] += sign * ev["amount"]
    return totals


def export_to(ledger: Any, path: Path, fmt: str = "hledger", as_of: str | None = None) -> None:
    exports.export(ledger, fmt, str(path), None, as_of, exports.INCOME, exports.EXPENSE)


@needs_tools
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), names=st.permutations(NAMES), fine=st.booleans(), v1=st.booleans(), data=st.data())
def test_random_histories_pass_hledger_check_and_both_tools_give_our_balances(
    scenario: tuple[int, list[tuple[Any, ...]], bool], names: list[str], fine: bool, v1: bool, data: st.DataObject
) -> None:
    _, steps, _ = scenario
    with tempfile.TemporaryDirectory() as folder:
        ledger = build(Path(folder), steps, tuple(names[:3]), fine, v1)
        journal = Path(folder) / "books.journal"
        as_of = data.draw(st.sampled_from([None, None, "2025-12-31", "2026-01-10", "2026-01-15"]), label="as_of")
        export_to(ledger, journal, as_of=as_of)
        checked = hledger(journal, "check", "-s", "ordereddates")
        assert checked.returncode == 0, checked.stderr + journal.read_text()
        state = ledger.state()
        if as_of is not None:
            from ledger_cli.books import as_of as books_as_of

            state = books_as_of(state, as_of)
        ours = {name: value for name, value in state.balances.items()}
        theirs = tool_balances(hledger(journal, "bal", "--flat", "-N", "-E").stdout)
        for name, value in ours.items():
            assert theirs.get(name, Decimal(0)) == value, (name, value, theirs)
        for name, value in counters(Path(folder) / "books.jsonl", as_of).items():
            assert theirs.get(name, Decimal(0)) == value, (name, value, theirs)
        read = ledger3(journal, "bal", "--flat", "--no-total", "--empty")
        assert read.returncode == 0, read.stderr
        third = tool_balances(read.stdout)
        for name, value in ours.items():
            assert third.get(name, Decimal(0)) == value, (name, value, third)


@needs_tools
def test_an_edited_balance_is_caught_by_hledger_and_by_ledger_3(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "acct1", "50"), ("withdraw", "acct1", "7.25"), ("deposit", "acct1", "1")):
        assert run_installed(list(args), log).returncode == 0
    journal = tmp_path / "books.journal"
    assert run_installed(["export", "-o", str(journal)], log).returncode == 0
    assert hledger(journal, "check", "-s", "ordereddates").returncode == 0
    assert ledger3(journal, "bal").returncode == 0
    text = journal.read_text()
    assert "= 42.75" in text
    journal.write_text(text.replace("= 42.75", "= 42.76"))
    assert hledger(journal, "check", "-s", "ordereddates").returncode != 0
    assert ledger3(journal, "bal").returncode != 0


def test_a_counter_account_that_is_one_of_the_books_accounts_is_exit_2(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    assert run_installed(["deposit", "income:unknown", "5"], log).returncode == 0
    done = run_installed(["export"], log)
    assert done.returncode == 2 and "income:unknown" in done.stderr and done.stdout == ""
    assert run_installed(["export", "--income-account", "income:salary"], log).returncode == 0
    assert run_installed(["export", "--expense-account", "bad name"], log).returncode == 2


def test_a_memo_and_key_survive_as_tag_values_and_the_description_keeps_no_semicolon(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    memo, key = ' pay; day, "x" 100% ', "k,1;x "
    assert run_installed(["deposit", "acct1", "5", "-m", memo, "-k", key], log).returncode == 0
    out = run_installed(["export"], log).stdout
    header = next(line for line in out.splitlines() if line.startswith("20"))
    assert ";" not in header.split("  ; ")[0]
    decoded = {}
    for line in out.splitlines():
        match = re.fullmatch(r"    ; (key|memo):(.*)", line)
        if match:
            decoded[match.group(1)] = re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), match.group(2))
    assert decoded == {"key": key, "memo": memo}


def test_csv_has_one_row_per_posting_with_the_running_balance(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "a", "10", "-m", 'say "hi", ok'), ("transfer", "a", "b", "4"), ("withdraw", "b", "1")):
        assert run_installed(list(args), log).returncode == 0
    out = tmp_path / "postings.csv"
    assert run_installed(["export", "--format", "csv", "-o", str(out)], log).returncode == 0
    data = out.read_bytes()
    assert data.count(b"\r\n") == 7  # header + 2 postings per event (RFC 4180 line ends)
    rows = list(csv.DictReader(data.decode().splitlines()))
    assert [(r["seq"], r["account"], r["amount"], r["balance"]) for r in rows] == [
        ("1", "a", "10", "10"), ("1", "income:unknown", "-10", "-10"),
        ("2", "a", "-4", "6"), ("2", "b", "4", "4"),
        ("3", "b", "-1", "3"), ("3", "expenses:unknown", "1", "1"),
    ]  # fmt: skip
    assert rows[0]["memo"] == 'say "hi", ok'


def test_an_export_to_a_file_that_cannot_be_written_leaves_nothing(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    assert run_installed(["deposit", "a", "10"], log).returncode == 0
    done = run_installed(["export", "-o", str(tmp_path / "missing" / "out.journal")], log)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "missing").exists()


def test_an_export_onto_the_log_itself_is_refused_and_the_books_stay(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    assert run_installed(["deposit", "a", "10"], log).returncode == 0
    before = log.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(log)
    os.link(log, tmp_path / "hard.jsonl")
    for name in (log, tmp_path / "link.jsonl", tmp_path / "hard.jsonl", tmp_path / "." / "books.jsonl"):
        done = run_installed(["export", "-o", str(name)], log)
        assert done.returncode == 2 and "the log itself" in done.stderr, (name, done.stderr)
    assert log.read_bytes() == before


def test_an_export_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    for n in range(300):
        (tmp_path / "r.jsonl").open("a").write(f'{{"type":"deposit","account":"a","amount":"{n + 1}"}}\n')
    assert run_installed(["import", "-q", str(tmp_path / "r.jsonl")], log).returncode == 0
    for fmt in ("hledger", "beancount", "csv"):
        done = subprocess.run(f"'{Path(sys.executable).parent / 'ledger'}' -f '{log}' export --format {fmt} | head -1",
                              shell=True, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0 and done.stderr == "", (fmt, done.stderr)
        assert done.stdout.startswith(";" if fmt != "csv" else "date,")
