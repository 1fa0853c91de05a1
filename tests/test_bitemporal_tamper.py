"""Hand-written lines that keep the hash chain right but break a rule of contract section 7:
`verify` exits 3 and names the line (= its seq), with and without the C extension
(LEDGER_CLI_NATIVE=0), and every other command refuses the log too, leaving it unchanged.

Each base log is made by the installed command; one line is then edited, re-sealed in the
canonical form of section 2 (sorted keys, no whitespace, UTF-8, `hash` spliced last), and every
following line's `prev`/`hash` recomputed, so only the rule is broken.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_installed
from tests.helpers_log import assert_chain, ok, rehash_from, seal

# name -> the commands that make a valid base log
BASES: dict[str, list[list[str]]] = {
    "closed": [
        ["deposit", "a", "100", "--date", "2025-12-10"],
        ["withdraw", "a", "30", "--date", "2025-12-20"],
        ["close-period", "2025-12-31"],
        ["deposit", "a", "5"],  # today, after the close
    ],
    "reopened": [
        ["deposit", "a", "100", "--date", "2025-12-10"],
        ["close-period", "2025-12-31"],
        ["reopen-period", "2025-12-20", "-m", "late invoice"],  # closed through 2025-12-19 now
        ["deposit", "a", "5", "--date", "2025-12-25"],
    ],
    "funds": [
        ["deposit", "a", "100", "--date", "2025-12-10"],
        ["withdraw", "a", "60", "--date", "2025-12-12"],
        ["deposit", "a", "50", "--date", "2025-12-15"],
        ["withdraw", "a", "50"],  # today: 40 left, by date and as recorded
        ["transfer", "a", "b", "40"],  # today: 0 left
    ],
    "dates": [
        ["deposit", "a", "100", "--date", "2025-12-10"],
        ["withdraw", "a", "10", "--date", "2025-12-11"],
        ["deposit", "a", "1"],
    ],
    "reversal": [
        ["deposit", "a", "100", "--date", "2025-12-10"],
        ["withdraw", "a", "30", "--date", "2025-12-12"],
        ["reverse", "2"],  # dated 2025-12-12, the original's date (that day is open)
    ],
}


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    """The lines (newline included) of each base log."""
    out = {}
    for name, commands in BASES.items():
        log = tmp_path_factory.mktemp(f"base-{name}") / "ledger.jsonl"
        for command in commands:
            ok(log, *command)
        lines = log.read_bytes().splitlines(keepends=True)
        assert len(lines) == len(commands)
        assert_chain([json.loads(line) for line in lines])
        check = run_installed(["verify"], log)
        assert check.returncode == 0, check.stderr
        out[name] = lines
    return out


Change = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


def edited(lines: list[bytes], seq: int, change: Change) -> list[bytes]:
    """Line `seq` with `change` (a field set to None is removed), re-sealed, and the chain after it fixed."""
    index = seq - 1
    fields = json.loads(lines[index])
    updates = change(fields) if callable(change) else change
    for key, value in updates.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    out = rehash_from([*lines[:index], seal(fields), *lines[index + 1 :]], index + 1)
    assert_chain([json.loads(line) for line in out])  # only the rule is broken
    return out


def days_after_ts(days: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(fields: dict[str, Any]) -> dict[str, Any]:
        return {"date": (date.fromisoformat(fields["ts"][:10]) + timedelta(days=days)).isoformat()}

    return change


# id -> (base, seq edited, change, the message's gist)
BROKEN = [
    # (a) dated inside a closed period, written after the close
    pytest.param("closed", 4, {"date": "2025-12-15"}, "closed through 2025-12-31", id="a-inside-closed-period"),
    pytest.param("closed", 4, {"date": "2025-12-31"}, "closed through 2025-12-31", id="a-on-the-last-closed-day"),
    pytest.param("closed", 4, {"date": "2024-01-01"}, "closed through 2025-12-31", id="a-long-before-the-close"),
    pytest.param("reopened", 4, {"date": "2025-12-19"}, "closed through 2025-12-19", id="a-the-day-before-a-reopening"),
    pytest.param("reopened", 3, {"date": "2026-01-05"}, "not in the closed period", id="a-reopening-outside-the-range"),
    pytest.param("reopened", 3, {"memo": None}, "", id="a-reopening-without-a-reason"),
    # (b) a backdated debit: the balance by date goes below zero on some day, as recorded it stays >= 0
    pytest.param("funds", 4, {"date": "2025-12-13"}, "a had 40 on 2025-12-13, needs 50", id="b-withdrawal-backdated"),
    pytest.param("funds", 4, {"date": "2025-12-11"}, "needs 50", id="b-withdrawal-backdated-before-a-debit"),
    pytest.param("funds", 4, {"date": "2025-12-09"}, "needs 50", id="b-withdrawal-before-any-money"),
    pytest.param("funds", 5, {"date": "2025-12-09"}, "needs 40", id="b-transfer-backdated"),
    # (c) impossible dates
    pytest.param("dates", 2, {"date": "2025-02-30"}, "not a real calendar date", id="c-february-30"),
    pytest.param("dates", 2, {"date": "2025-13-01"}, "not a real calendar date", id="c-month-13"),
    pytest.param("dates", 2, {"date": "2025-12-1"}, "", id="c-not-iso"),
    pytest.param("dates", 3, days_after_ts(2), "after the day it was recorded", id="c-two-days-after-ts"),
    # (d) version and date do not go together
    pytest.param("dates", 2, {"date": None}, "needs the field 'date'", id="d-v2-without-date"),
    pytest.param("dates", 2, {"v": 1}, "does not belong to a v1 event", id="d-v1-with-date"),
    pytest.param("dates", 2, {"v": 3}, "", id="d-a-newer-version"),
    # (e) a reversal dated before its target
    pytest.param("reversal", 3, {"date": "2025-12-11"}, "before the event it reverses", id="e-reversal-early"),
]

# Edits that keep every rule: verify must still pass (the boundaries of the cases above).
VALID = [
    pytest.param("closed", 2, {"date": "2025-12-15"}, id="backdated-before-the-close-is-fine"),
    pytest.param("reopened", 4, {"date": "2025-12-20"}, id="dated-on-the-reopened-day"),
    pytest.param("funds", 4, {"date": "2025-12-15"}, id="withdrawal-on-the-day-the-money-came"),
    pytest.param("dates", 3, days_after_ts(1), id="a-day-after-ts-a-writer-east-of-utc"),
    pytest.param("dates", 3, days_after_ts(-400), id="long-backdated"),
    pytest.param("reversal", 3, {"date": "2025-12-13"}, id="reversal-dated-later"),
]

# A reversal is matched with its target by `verify` only (as for a reversal of the wrong amount,
# before section 7): reads fold it like any other event, so they are not asked to refuse it.
VERIFY_ONLY = {"reversal"}

NATIVE = pytest.mark.parametrize("native", ["1", "0"], ids=["native-default", "native-off"])
OTHERS = [
    ["balance"],
    ["balance", "--as-of", "2025-12-13"],
    ["replay", "--json"],
    ["history", "a"],
    ["deposit", "a", "1"],
]


def write(log: Path, lines: list[bytes]) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"".join(lines))


@NATIVE
@pytest.mark.parametrize(("base", "seq", "change", "gist"), BROKEN)
def test_verify_names_the_line_that_breaks_a_dated_rule(
    bases: dict[str, list[bytes]], log: Path, native: str, base: str, seq: int, change: Change, gist: str
) -> None:
    write(log, edited(bases[base], seq, change))
    before = log.read_bytes()
    env = {"LEDGER_CLI_NATIVE": native}
    check = run_installed(["verify"], log, env=env)
    assert check.returncode == 3, (check.stdout, check.stderr)
    assert f"line {seq}:" in check.stderr, check.stderr
    assert gist in check.stderr, check.stderr
    assert "Traceback" not in check.stderr
    report = run_installed(["verify", "--json"], log, env=env)
    assert report.returncode == 3
    parsed = json.loads(report.stdout)
    assert parsed["ok"] is False
    assert parsed["problems"] and f"line {seq}:" in parsed["problems"][0], parsed
    for args in [] if base in VERIFY_ONLY else OTHERS:
        result = run_installed(args, log, env=env)
        assert result.returncode == 3, (args, result.returncode, result.stdout, result.stderr)
        assert f"line {seq}" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert log.read_bytes() == before


@pytest.mark.parametrize(("base", "seq", "change", "gist"), BROKEN)
def test_both_paths_give_the_same_verdict(
    bases: dict[str, list[bytes]], log: Path, base: str, seq: int, change: Change, gist: str
) -> None:
    write(log, edited(bases[base], seq, change))
    native = run_installed(["verify", "--json"], log, env={"LEDGER_CLI_NATIVE": "1"})
    python = run_installed(["verify", "--json"], log, env={"LEDGER_CLI_NATIVE": "0"})
    assert native.returncode == python.returncode == 3
    assert json.loads(native.stdout) == json.loads(python.stdout)


@NATIVE
@pytest.mark.parametrize(("base", "seq", "change", "gist"), BROKEN)
def test_a_checkpoint_of_the_good_log_does_not_hide_the_edit(
    bases: dict[str, list[bytes]], log: Path, native: str, base: str, seq: int, change: Change, gist: str
) -> None:
    """The base log is read first (checkpoints made), then edited in place."""
    env = {"LEDGER_CLI_NATIVE": native}
    write(log, bases[base])
    assert run_installed(["balance"], log, env=env).returncode == 0
    assert run_installed(["history", "a"], log, env=env).returncode == 0
    write(log, edited(bases[base], seq, change))
    for args in [["verify"]] if base in VERIFY_ONLY else [["balance"], ["verify"]]:
        result = run_installed(args, log, env=env)
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        assert f"line {seq}" in result.stderr, result.stderr


def test_the_backdated_withdrawal_keeps_the_recorded_balance_positive(bases: dict[str, list[bytes]]) -> None:
    """Case (b) breaks only the by-date rule: in log order every balance stays >= 0."""
    rows = [json.loads(line) for line in edited(bases["funds"], 4, {"date": "2025-12-13"})]
    balance = Decimal(0)
    for row in rows:
        if row["account"] != "a":
            continue
        balance += Decimal(row["amount"]) * (1 if row["type"] == "deposited" else -1)
        assert balance >= 0
    by_date = sorted((row["date"], row["seq"], row) for row in rows if row["account"] == "a")
    running, lowest = Decimal(0), Decimal(0)
    for _, _, row in by_date:
        running += Decimal(row["amount"]) * (1 if row["type"] == "deposited" else -1)
        lowest = min(lowest, running)
    assert lowest < 0


@NATIVE
@pytest.mark.parametrize(("base", "seq", "change"), VALID)
def test_an_edit_that_keeps_every_rule_verifies(
    bases: dict[str, list[bytes]], log: Path, native: str, base: str, seq: int, change: Change
) -> None:
    write(log, edited(bases[base], seq, change))
    check = run_installed(["verify"], log, env={"LEDGER_CLI_NATIVE": native})
    assert check.returncode == 0, check.stderr
