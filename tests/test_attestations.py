"""`ledger verify --against FILE` (contract section 7, attestations): a statement an auditor kept
(the JSON of `replay --json`, with any --known-at/--as-of) still holds - the event at its seq has
its head hash and replaying to the same bounds gives the same balances and total - or exit 3
saying what differs; a file that is not such a statement is exit 2 and the log is untouched.

Run in-process through both parsers (the `ledger` fixture); the statements live outside the
log's folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runner
from tests.helpers_log import rehash_from, seal


def run_ok(ledger: Runner, *args: str) -> str:
    result = ledger(*args)
    assert result.code == 0, (args, result.code, result.stderr)
    return result.stdout


@pytest.fixture
def books(ledger: Runner) -> Runner:
    """a: 100 on 2025-12-10, 30 of it to b on 2025-12-20; the books closed through 2025-12-31."""
    run_ok(ledger, "deposit", "a", "100", "--date", "2025-12-10", "-q")
    run_ok(ledger, "transfer", "a", "b", "30", "--date", "2025-12-20", "-q")
    run_ok(ledger, "close-period", "2025-12-31", "-q")
    return ledger


def keep(ledger: Runner, folder: Path, name: str, *args: str) -> Path:
    """The statement `replay --json ARGS` prints, kept in a file."""
    path = folder / f"{name}.json"
    path.write_text(run_ok(ledger, "replay", "--json", *args), encoding="utf-8")
    return path


def against(ledger: Runner, *paths: Path | str, json_out: bool = False) -> Any:
    args = ["verify"]
    for path in paths:
        args += ["--against", str(path)]
    return ledger(*args, *(["--json"] if json_out else []))


def edited_statement(path: Path, change: Callable[[dict[str, Any]], None], name: str) -> Path:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    out = path.with_name(name)
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


# ---- statements that hold ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bounds",
    [
        pytest.param([], id="replay"),
        pytest.param(["--as-of", "2025-12-15"], id="as-of"),
        pytest.param(["--as-of", "2025-12-31"], id="as-of-the-close"),
        pytest.param(["--known-at", "2", "--as-of", "2025-12-25"], id="known-at-and-as-of"),
        pytest.param(["--known-at", "1"], id="known-at"),
        pytest.param(["--until", "2", "--as-of", "2025-12-19"], id="until-alias-and-as-of"),
    ],
)
def test_an_unchanged_history_holds_its_statements(books: Runner, tmp_path: Path, bounds: list[str]) -> None:
    statement = keep(books, tmp_path, "kept", *bounds)
    result = against(books, statement)
    assert result.code == 0, result.stderr
    assert str(statement) in result.stdout or str(statement) in result.stderr
    report = json.loads(against(books, statement, json_out=True).stdout)
    assert report["ok"] is True and report["problems"] == []


def test_a_statement_holds_after_later_backdated_entries_and_a_reopening(books: Runner, tmp_path: Path) -> None:
    whole = keep(books, tmp_path, "whole")
    by_date = keep(books, tmp_path, "by-date", "--as-of", "2025-12-15")
    closed = keep(books, tmp_path, "closed", "--as-of", "2025-12-31")
    earlier = keep(books, tmp_path, "earlier", "--known-at", "2", "--as-of", "2025-12-25")
    before = json.loads(by_date.read_text())
    # Later entries change the books of those days, as known now...
    run_ok(books, "reopen-period", "2025-12-01", "-m", "a missed deposit", "-q")
    run_ok(books, "deposit", "a", "5", "--date", "2025-12-12", "-q")
    run_ok(books, "deposit", "c", "7", "--date", "2025-12-14", "-q")
    run_ok(books, "withdraw", "b", "10", "--date", "2025-12-28", "-q")
    run_ok(books, "close-period", "2025-12-31", "-q")
    now = json.loads(run_ok(books, "replay", "--json", "--as-of", "2025-12-15"))
    assert now["total"] != before["total"] and now["head"] != before["head"]
    # ...but not what was known when each statement was made.
    result = against(books, whole, by_date, closed, earlier)
    assert result.code == 0, result.stderr
    report = json.loads(against(books, whole, by_date, closed, earlier, json_out=True).stdout)
    assert report["ok"] is True and report["events"] == 8


def test_an_empty_log_statement_holds_forever(ledger: Runner, tmp_path: Path) -> None:
    statement = keep(ledger, tmp_path, "empty")
    data = json.loads(statement.read_text())
    assert data["seq"] == 0 and data["head"] == "0" * 64 and data["accounts"] == []
    assert against(ledger, statement).code == 0
    run_ok(ledger, "deposit", "a", "1", "-q")
    assert against(ledger, statement).code == 0


def test_an_edit_after_the_statement_does_not_touch_it(books: Runner, tmp_path: Path) -> None:
    """A statement vouches for its prefix only: a later line edited (and re-sealed) leaves it intact."""
    statement = keep(books, tmp_path, "kept", "--known-at", "2")
    lines = books.log.read_bytes().splitlines(keepends=True)
    fields = json.loads(lines[2])
    fields["memo"] = "year end"
    books.log.write_bytes(b"".join(rehash_from([*lines[:2], seal(fields)], 3)))
    result = against(books, statement)
    assert result.code == 0, result.stderr


# ---- statements that no longer hold ---------------------------------------------------------------


@pytest.mark.parametrize("seq", [1, 2], ids=["first-line", "second-line"])
@pytest.mark.parametrize("bounds", [[], ["--as-of", "2025-12-31"]], ids=["replay", "as-of"])
def test_a_history_rewritten_before_the_statement_is_caught(
    books: Runner, tmp_path: Path, seq: int, bounds: list[str]
) -> None:
    statement = keep(books, tmp_path, "kept", *bounds)
    old_head = json.loads(statement.read_text())["head"]
    lines = books.log.read_bytes().splitlines(keepends=True)
    fields = json.loads(lines[seq - 1])
    fields["amount"] = str(int(fields["amount"]) + 1)  # 101 deposited, or 31 moved: every rule still holds
    books.log.write_bytes(b"".join(rehash_from([*lines[: seq - 1], seal(fields), *lines[seq:]], seq)))
    plain = books("verify")
    assert plain.code == 0, plain.stderr  # the rewrite is consistent: only the statement shows it
    new_head = json.loads(run_ok(books, "replay", "--json"))["head"]
    assert new_head != old_head
    before = books.log.read_bytes()
    result = against(books, statement)
    assert result.code == 3, (result.stdout, result.stderr)
    assert "the history up to seq 3 has changed" in result.stderr, result.stderr
    assert f"head was {old_head[:4]}" in result.stderr and f"is now {new_head[:4]}" in result.stderr
    report = json.loads(against(books, statement, json_out=True).stdout)
    assert report["ok"] is False
    assert any("the history up to seq 3 has changed" in problem for problem in report["problems"])
    assert books.log.read_bytes() == before


def _balance(account: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        (row,) = [row for row in data["accounts"] if row["account"] == account]
        row["balance"] = value

    return change


def _drop(account: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["accounts"] = [row for row in data["accounts"] if row["account"] != account]
        data["total"] = "70" if account == "b" else "30"

    return change


def _add(data: dict[str, Any]) -> None:
    data["accounts"].append({"account": "zz", "balance": "0", "open": True})


def _closed(data: dict[str, Any]) -> None:
    data["accounts"][1]["open"] = False


def _total(data: dict[str, Any]) -> None:
    data["total"] = "100.01"


def _as_of(data: dict[str, Any]) -> None:
    data["as_of"] = "2025-12-15"  # b did not exist yet then


EDITS = [
    pytest.param(_balance("a", "71"), "a", id="balance-of-a"),
    pytest.param(_balance("b", "29.99"), "b", id="balance-of-b"),
    pytest.param(_drop("b"), "b", id="account-left-out"),
    pytest.param(_add, "zz", id="account-made-up"),
    pytest.param(_closed, "b", id="open-flag"),
    pytest.param(_as_of, "a", id="as-of-moved"),  # the first account (by name) that differs
]


@pytest.mark.parametrize(("change", "account"), EDITS)
def test_a_statement_with_edited_balances_names_the_account(
    books: Runner, tmp_path: Path, change: Callable[[dict[str, Any]], None], account: str
) -> None:
    statement = edited_statement(keep(books, tmp_path, "kept"), change, "edited.json")
    before = books.log.read_bytes()
    result = against(books, statement)
    assert result.code == 3, (result.stdout, result.stderr)
    assert "differ from the statement" in result.stderr, result.stderr
    assert f": {account} was" in result.stderr, result.stderr
    assert books.log.read_bytes() == before


def test_a_statement_with_an_edited_total_is_caught(books: Runner, tmp_path: Path) -> None:
    statement = edited_statement(keep(books, tmp_path, "kept", "--as-of", "2025-12-31"), _total, "edited.json")
    result = against(books, statement)
    assert result.code == 3, (result.stdout, result.stderr)
    assert "total" in result.stderr and "100.01" in result.stderr, result.stderr


def test_the_same_balances_at_another_scale_still_hold(books: Runner, tmp_path: Path) -> None:
    """Amounts are compared as values (section 3): 70 and 70.00 are the same balance."""
    statement = edited_statement(keep(books, tmp_path, "kept"), _balance("a", "70.00"), "scaled.json")
    result = against(books, statement)
    assert result.code == 0, result.stderr


def test_a_statement_beyond_the_log_is_caught(books: Runner, tmp_path: Path) -> None:
    run_ok(books, "deposit", "a", "1", "--date", "2026-01-02", "-q")
    statement = keep(books, tmp_path, "kept")
    assert json.loads(statement.read_text())["seq"] == 4
    books.log.write_bytes(b"".join(books.log.read_bytes().splitlines(keepends=True)[:3]))  # cut back to 3 lines
    result = against(books, statement)
    assert result.code == 3, (result.stdout, result.stderr)
    assert "seq 4" in result.stderr, result.stderr
    made_up = edited_statement(statement, lambda data: data.update(seq=99), "far.json")
    result = against(books, made_up)
    assert result.code == 3 and "seq 99" in result.stderr, result.stderr


@pytest.mark.parametrize("bad_first", [False, True], ids=["good-then-bad", "bad-then-good"])
def test_one_bad_statement_among_several_fails_the_check(books: Runner, tmp_path: Path, bad_first: bool) -> None:
    good = keep(books, tmp_path, "good", "--as-of", "2025-12-31")
    bad = edited_statement(keep(books, tmp_path, "kept"), _balance("a", "71"), "bad.json")
    order = (bad, good) if bad_first else (good, bad)
    result = against(books, *order)
    assert result.code == 3, (result.stdout, result.stderr)
    assert "bad.json" in result.stderr and "good.json" not in result.stderr.replace(str(good) + " holds", "")
    report = json.loads(against(books, *order, json_out=True).stdout)
    assert report["ok"] is False
    assert (
        len(report["problems"]) == 1 and "bad.json" in report["problems"][0] and ": a was 71" in report["problems"][0]
    )
    assert against(books, good, good).code == 0


# ---- files that are not statements ---------------------------------------------------------------------


def _not_statements(ledger: Runner, folder: Path) -> dict[str, Path]:
    files = {
        "not-json": "this is not json\n",
        "truncated-json": '{"seq": 3, "head": "',
        "ok-true": '{"ok": true}\n',
        "a-list": "[]\n",
        "empty": "",
        "verify-json": ledger("verify", "--json").stdout,
        "balance-json": run_ok(ledger, "balance", "--json"),  # no head
        "seq-as-text": run_ok(ledger, "replay", "--json").replace('"seq": 3', '"seq": "3"'),
        "amount-not-a-number": run_ok(ledger, "replay", "--json").replace('"balance": "70"', '"balance": "seventy"'),
        "as-of-not-a-day": run_ok(ledger, "replay", "--json").replace('"as_of": null', '"as_of": "2025-02-30"'),
    }
    out = {}
    for name, text in files.items():
        path = folder / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


NOT_STATEMENTS = [
    "not-json", "truncated-json", "ok-true", "a-list", "empty", "verify-json", "balance-json",
    "seq-as-text", "amount-not-a-number", "as-of-not-a-day",
]  # fmt: skip


@pytest.mark.parametrize("name", NOT_STATEMENTS)
def test_a_file_that_is_not_a_statement_is_bad_input(books: Runner, tmp_path: Path, name: str) -> None:
    path = _not_statements(books, tmp_path)[name]
    if name == "balance-json":
        assert "head" not in json.loads(path.read_text())
    good = keep(books, tmp_path, "good")
    folder = sorted(p.name for p in books.log.parent.iterdir())
    before = books.log.read_bytes()
    for paths in ([path], [good, path], [path, good]):
        result = against(books, *paths)
        assert result.code == 2, (name, result.code, result.stdout, result.stderr)
        assert result.stdout == ""
        assert path.name in result.stderr and "Traceback" not in result.stderr
    assert books.log.read_bytes() == before
    assert sorted(p.name for p in books.log.parent.iterdir()) == folder


def test_a_missing_statement_file_is_bad_input(books: Runner, tmp_path: Path) -> None:
    before = books.log.read_bytes()
    result = against(books, tmp_path / "nowhere.json")
    assert result.code == 2, (result.stdout, result.stderr)
    assert "nowhere.json" in result.stderr
    assert books.log.read_bytes() == before


def test_a_statement_on_standard_input(books: Runner) -> None:
    statement = run_ok(books, "replay", "--json", "--as-of", "2025-12-20")
    assert books("verify", "--against", "-", input=statement).code == 0
    changed = statement.replace('"total": "100"', '"total": "99"')
    assert books("verify", "--against", "-", input=changed).code == 3
