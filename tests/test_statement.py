"""Bank statements in (issue 12): `ledger import statement.csv --rules bank.rules` reads a
bank's CSV through hledger's CSV rules syntax (a subset) and gives the balances the real
`hledger -f statement.csv --rules-file bank.rules` gives; each row is recorded once (by the
bank's id, else a digest and its occurrence), so an overlapping statement adds only its new
rows; bad rules and bad rows are exit 2 naming the line, with nothing written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_installed

HLEDGER = shutil.which("hledger")
needs_hledger = pytest.mark.skipif(
    HLEDGER is None, reason="hledger is not installed (Debian: apt-get install hledger; .ci/run does)"
)
UTF8 = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

RULES = """# my bank's CSV export
skip 1
fields date, description, amount, key
date-format %d/%m/%Y
account1 assets:bank

if SUPERMARKET|CAFE
  account2 expenses:food

if %description ^RENT
  account2 expenses:rent
"""
ROWS = [
    "03/11/2026,SALARY ACME,2500.00,T1",
    "04/11/2026,SUPERMARKET 12,-42.10,T2",
    "04/11/2026,CAFE LUNA,-3.50,T3",
    "05/11/2026,RENT NOVEMBER,-900,T4",
    "05/11/2026,CAFE LUNA,-3.50,T5",
    "06/11/2026,CASH MACHINE,-20,T6",
    "07/11/2026,REFUND SHOP,+12.00,T7",
]


def write(
    folder: Path, rows: list[str], rules: str = RULES, header: str = "Date,Description,Amount,Id"
) -> tuple[Path, Path]:
    statement, rules_file = folder / "statement.csv", folder / "bank.rules"
    statement.write_text(header + "\n" + "\n".join(rows) + "\n")
    rules_file.write_text(rules)
    return statement, rules_file


def ours(log: Path) -> dict[str, Decimal]:
    out = run_installed(["balance"], log).stdout
    return {line.split("\t")[0]: Decimal(line.split("\t")[1]) for line in out.splitlines()}


def theirs(statement: Path, rules: Path) -> dict[str, Decimal]:
    done = subprocess.run([str(HLEDGER), "-f", str(statement), "--rules-file", str(rules), "bal", "--flat", "-N"],
                          capture_output=True, text=True, env=UTF8)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = {}
    for line in done.stdout.splitlines():
        amount, _, account = line.strip().partition("  ")
        found[account.strip()] = Decimal(amount.strip())
    return found


def imported(log: Path, statement: Path, rules: Path) -> subprocess.CompletedProcess[str]:
    return run_installed(["import", str(statement), "--rules", str(rules)], log)


@needs_hledger
def test_a_statement_gives_the_balances_hledger_gives_and_an_overlap_adds_only_new_rows(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    statement, rules = write(tmp_path, ROWS[:5])
    first = imported(log, statement, rules)
    assert first.returncode == 0 and first.stdout.startswith("imported 5 events"), first.stderr
    expected = theirs(statement, rules)
    assert all(expected[name] == value for name, value in ours(log).items()), (ours(log), expected)
    statement, rules = write(tmp_path, ROWS[3:])  # two rows again, two new
    again = imported(log, statement, rules)
    assert (
        again.returncode == 0
        and again.stdout.startswith("imported 2 events")
        and "2 rows already recorded" in again.stdout
    )
    (tmp_path / "whole").mkdir()
    whole, _ = write(tmp_path / "whole", ROWS)  # the whole statement, as hledger reads it
    total = theirs(whole, rules)
    assert {name: total[name] for name in ours(log)} == ours(log)
    lines = log.read_text().splitlines()
    assert len(lines) == 7 and '"date":"2026-11-07"' in lines[-1]


def test_rows_without_an_id_are_told_apart_by_their_occurrence_and_recorded_once(tmp_path: Path) -> None:
    rules = RULES.replace("fields date, description, amount, key", "fields date, description, amount")
    log = tmp_path / "books.jsonl"
    rows = ["01/11/2026,OPENING,100", "02/11/2026,CAFE LUNA,-3.50", "02/11/2026,CAFE LUNA,-3.50"]
    statement, rules_file = write(tmp_path, rows, rules, header="Date,Description,Amount")
    assert imported(log, statement, rules_file).stdout.startswith("imported 3 events")
    assert ours(log)["expenses:food"] == Decimal("7.00")  # two equal purchases stay two
    done = imported(log, statement, rules_file)
    assert done.stdout.startswith("imported 0 events") and "3 rows already recorded" in done.stdout


def test_a_recorded_row_the_rules_now_map_otherwise_is_skipped_and_said(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    statement, rules = write(tmp_path, ROWS[:3])
    assert imported(log, statement, rules).returncode == 0
    before = log.read_bytes()
    rules.write_text(RULES.replace("expenses:food", "expenses:groceries"))
    done = imported(log, statement, rules)
    assert (
        done.returncode == 0
        and "3 rows already recorded" in done.stdout
        and "2 of them mapped otherwise" in done.stdout
    )
    assert log.read_bytes() == before


def test_a_newest_first_statement_imports_in_date_order(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    statement, rules = write(tmp_path, list(reversed(ROWS)))  # the salary last in the file
    done = imported(log, statement, rules)
    assert done.returncode == 0, done.stderr
    assert ours(log)["assets:bank"] == Decimal("2500") - Decimal("42.10") - 7 - 900 - 20 + 12


def test_dry_run_prints_the_records_and_writes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    statement, rules = write(tmp_path, ROWS[:2])
    done = run_installed(["import", str(statement), "--rules", str(rules), "--dry-run"], log)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2 and '"to": "expenses:food"' in done.stdout
    assert not log.exists()


BAD_RULES = {
    "an unknown rule": ("skip 1\nfields date, amount\naccount1 a\nnewest-first\n", "line 4"),
    "a bad regex": ("skip 1\nfields date, amount\naccount1 a\nif (unclosed\n  account2 b\n", "line 4"),
    "an if with nothing set": ("fields date, amount\naccount1 a\nif X\n\n", "if block"),
    "an if setting account1": ("fields date, amount\naccount1 a\nif X\n  account1 b\n", "line 4"),
    "a bad separator": ("separator :\nfields date, amount\naccount1 a\n", "line 1"),
    "no fields": ("account1 a\n", "fields"),
}


@pytest.mark.parametrize("case", list(BAD_RULES))
def test_bad_rules_are_exit_2_naming_the_line_and_nothing_is_written(tmp_path: Path, case: str) -> None:
    log = tmp_path / "books.jsonl"
    rules_text, said = BAD_RULES[case]
    statement, rules = write(tmp_path, ["2026-11-01,5"], rules_text, header="date,amount")
    done = imported(log, statement, rules)
    assert done.returncode == 2 and said in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert not log.exists()


@pytest.mark.parametrize(
    ("row", "said"),
    [("31/02/2026,X,5,A", "line 3"), ("01/11/2026,X,5.0.0,A", "line 3"), ("01/11/2026,X,1e3,A", "line 3"),
     ("01/11/2026,X,,A", "line 3")],
)  # fmt: skip
def test_a_bad_row_is_exit_2_naming_its_csv_line_and_nothing_is_written(tmp_path: Path, row: str, said: str) -> None:
    log = tmp_path / "books.jsonl"
    statement, rules = write(tmp_path, ["01/11/2026,OPENING,100,Z", row])
    done = imported(log, statement, rules)
    assert done.returncode == 2 and said in done.stderr and "statement.csv" in done.stderr, done.stderr
    assert not log.exists()


descriptions = st.sampled_from(["SUPERMARKET 1", "Cafe Luna", "RENT", "CASH", "GIFT", "supermarket 2"])


@needs_hledger
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(
        st.tuples(st.integers(1, 28), descriptions, st.integers(-5000, 5000).filter(bool), st.integers(0, 2)),
        min_size=1,
        max_size=25,
    ),  # fmt: skip
    split=st.booleans(),
)
def test_random_statements_give_hledgers_balances(moves: list[tuple[int, str, int, int]], split: bool) -> None:
    """amount-in/amount-out columns or one signed amount; cents or whole units. The rows a
    rule gives an account2 are money out: money in is a deposit to account1 whatever the rules
    say (hledger would post it against account2, as a refund)."""
    rows = ["01/11/2026,OPENING,1000000,"] if split else ["01/11/2026,OPENING,1000000"]
    for day, text, cents, scale in moves:
        if re.search("SUPERMARKET|CAFE|^RENT", text, re.IGNORECASE):
            cents = -abs(cents)  # money in is a deposit whatever account2 says (hledger: a refund)
        value = f"{Decimal(cents).scaleb(-scale)}"
        if split:
            rows.append(
                f"{day:02d}/11/2026,{text},{value if cents > 0 else ''},{value.lstrip('-') if cents < 0 else ''}"
            )
        else:
            rows.append(f"{day:02d}/11/2026,{text},{value}")
    fields = "fields date, description, amount-in, amount-out" if split else "fields date, description, amount"
    rules = RULES.replace("fields date, description, amount, key", fields)
    header = "Date,Description,In,Out" if split else "Date,Description,Amount"
    with tempfile.TemporaryDirectory() as folder:
        statement, rules_file = write(Path(folder), rows, rules, header)
        log = Path(folder) / "books.jsonl"
        done = imported(log, statement, rules_file)
        assert done.returncode == 0, done.stderr
        expected = theirs(statement, rules_file)
        for name, value in ours(log).items():
            assert expected.get(name, Decimal(0)) == value, (name, value, expected)
