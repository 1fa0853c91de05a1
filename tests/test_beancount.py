"""`ledger export --format beancount` checked by Beancount 3 itself (issue 12): the name
mapping is valid and one-to-one over random names; random dated histories pass `bean-check`
and Beancount's loader gives our balances; an edited balance is caught; a value Beancount
would round is exit 2. Beancount comes with the test extra (`pip install -e '.[test]'`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import beannames, exports
from ledger_cli.values import account_problem
from tests.conftest import run_installed
from tests.test_bitemporal_model import scenarios
from tests.test_export import NAMES, build, counters, utc  # noqa: F401  (utc: the module's TZ)

BEAN_CHECK = shutil.which("bean-check") or str(Path(sys.executable).parent / "bean-check")
needs_beancount = pytest.mark.skipif(
    not Path(BEAN_CHECK).exists(), reason="Beancount 3 is not installed (it comes with the test extra)"
)

segment_chars = st.characters(categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd"), include_characters="_-.")
segments = st.text(segment_chars, min_size=1, max_size=8).filter(lambda s: not s.startswith("-"))
accounts = st.lists(segments, min_size=1, max_size=3).map(":".join).map(lambda s: unicodedata.normalize("NFC", s))


@settings(max_examples=2000, deadline=None)
@given(names=st.sets(accounts.filter(lambda a: account_problem(a) is None), min_size=2, max_size=12))
def test_the_mapping_is_valid_and_one_to_one(names: set[str]) -> None:
    mapped = {beannames.beancount_name(name) for name in names}
    assert len(mapped) == len(names)
    assert all(beannames.valid(name) for name in mapped), mapped


COMMON = [
    ("acct1", "Assets:Acct1"),
    ("Acct1", "Assets:X-oAcct1"),
    ("assets:bank:checking.old", "Assets:Assets:Bank:Checking-dold"),
    ("my_acct", "Assets:My-uacct"),
    ("2024-x", "Assets:2024--x"),
    ("中文:账户", "Assets:X-o中文:X-o账户"),
    ("खाता", "Assets:X-oख-x93e-त-x93e-"),
]


@pytest.mark.parametrize(("ours", "theirs"), COMMON)
def test_names_read_naturally_in_the_common_case(ours: str, theirs: str) -> None:
    assert beannames.beancount_name(ours) == theirs


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BEAN_CHECK, "-C", str(path)], capture_output=True, text=True)


def loaded_balances(path: Path) -> dict[str, Decimal]:
    from beancount import loader
    from beancount.core import data

    entries, errors, _ = loader.load_file(str(path))
    assert errors == [], errors
    totals: dict[str, Decimal] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                totals[posting.account] = totals.get(posting.account, Decimal(0)) + posting.units.number
    return totals


@needs_beancount
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), names=st.permutations(NAMES), fine=st.booleans(), v1=st.booleans(), data=st.data())
def test_random_histories_pass_bean_check_and_load_with_our_balances(
    scenario: tuple[int, list[tuple[Any, ...]], bool], names: list[str], fine: bool, v1: bool, data: st.DataObject
) -> None:
    _, steps, _ = scenario
    with tempfile.TemporaryDirectory() as folder:
        ledger = build(Path(folder), steps, tuple(names[:3]), fine, v1)
        out = Path(folder) / "books.beancount"
        as_of = data.draw(st.sampled_from([None, None, "2025-12-31", "2026-01-10"]), label="as_of")
        exports.export(ledger, "beancount", str(out), None, as_of, exports.INCOME, exports.EXPENSE, "EUR")
        checked = bean_check(out)
        assert checked.returncode == 0, checked.stdout + checked.stderr + out.read_text()
        state = ledger.state()
        if as_of is not None:
            from ledger_cli.books import as_of as books_as_of

            state = books_as_of(state, as_of)
        theirs = loaded_balances(out)
        for name, value in state.balances.items():
            assert theirs.get(beannames.beancount_name(name), Decimal(0)) == value, (name, value)
        for name, value in counters(Path(folder) / "books.jsonl", as_of).items():
            assert theirs.get(beannames.counter_name(name, "Income"), Decimal(0)) == value, (name, value)


@needs_beancount
def test_an_edited_balance_is_caught_by_bean_check(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "acct1", "50"), ("withdraw", "acct1", "7.25")):
        assert run_installed(list(args), log).returncode == 0
    out = tmp_path / "books.beancount"
    assert run_installed(["export", "--format", "beancount", "-o", str(out)], log).returncode == 0
    assert bean_check(out).returncode == 0
    text = out.read_text()
    assert "balance Assets:Acct1 42.75 ~ 0 CC" in text
    out.write_text(text.replace("42.75 ~ 0", "42.76 ~ 0"))
    assert bean_check(out).returncode != 0


def test_a_value_beancount_would_round_is_exit_2_and_nothing_is_written(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    big = "99999999999.999999999999999999"  # 29 significant digits (the contract allows 30)
    assert run_installed(["deposit", "acct1", big], log).returncode == 0
    done = run_installed(["export", "--format", "beancount"], log)
    assert done.returncode == 2 and "28 significant digits" in done.stderr and done.stdout == ""
    assert run_installed(["export", "--format", "hledger"], log).returncode == 0  # hledger keeps them all


def test_the_currency_and_the_account_map_are_checked(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "acct1", "5"), ("deposit", "savings", "1")):
        assert run_installed(list(args), log).returncode == 0
    assert run_installed(["export", "--format", "beancount", "--currency", "eur"], log).returncode == 2
    good = tmp_path / "good.tsv"
    good.write_text("acct1\tAssets:Bank:Checking\n")
    done = run_installed(["export", "--format", "beancount", "--currency", "EUR", "--account-map", str(good)], log)
    assert done.returncode == 0 and "open Assets:Bank:Checking EUR" in done.stdout
    for bad in ("acct1\tAssets:Savings\n", "acct1\tassets:lower\n", "nobody\tAssets:X\n", "acct1 Assets:X\n"):
        (tmp_path / "bad.tsv").write_text(bad)
        done = run_installed(["export", "--format", "beancount", "--account-map", str(tmp_path / "bad.tsv")], log)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, (bad, done.stderr)


def test_a_counter_account_total_beancount_would_round_is_exit_2(tmp_path: Path) -> None:
    """Each deposit fits, but their sum on Income:Unknown would need 29 digits."""
    log = tmp_path / "books.jsonl"
    for account in ("a", "b"):
        assert run_installed(["deposit", account, "6000000000.000000000000000001"], log).returncode == 0
    done = run_installed(["export", "--format", "beancount"], log)
    assert done.returncode == 2 and "income:unknown" in done.stderr and done.stdout == ""
