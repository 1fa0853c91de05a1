"""CLI tests of the write commands: open, deposit, withdraw, transfer, close, reverse.

Every test runs twice (conftest's `ledger` fixture): through the Typer app and through the
real entry point's fast path. stdout, stderr and the exit code are asserted apart, and every
refused command is checked to leave the log byte-for-byte unchanged (contract §6).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli.domain import Deposit, Open
from tests.conftest import Outcome, Runner, seed

D = Decimal
pytestmark = pytest.mark.both_stores  # (the tests of a file's own properties are file_only)


def snapshot(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def assert_error(out: Outcome, code: int, *needles: str) -> None:
    """A failed command: its code, nothing on stdout, one `ledger: error:` line on stderr."""
    assert out.code == code, (out.code, out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("ledger: error:"), out.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def refused(ledger: Runner, code: int, *args: str, needles: tuple[str, ...] = ()) -> Outcome:
    """Run a command that must fail with `code` and leave the log as it was."""
    before = ledger.snapshot()
    out = ledger(*args)
    assert_error(out, code, *needles)
    assert ledger.snapshot() == before
    return out


def ok(ledger: Runner, *args: str, env: dict[str, str] | None = None) -> Outcome:
    out = ledger(*args, env=env)
    assert out.code == 0, (out.stdout, out.stderr)
    return out


def events(ledger: Runner) -> list[dict[str, object]]:
    return [json.loads(line) for line in ledger.lines()]


def balances(ledger: Runner) -> dict[str, tuple[Decimal, bool]]:
    data = json.loads(ok(ledger, "balance", "--json").stdout)
    return {row["account"]: (D(row["balance"]), row["open"]) for row in data["accounts"]}


# ---- the issue's example session ---------------------------------------------------------------


def test_issue_example_session_end_to_end(ledger: Runner) -> None:
    out = ok(ledger, "deposit", "acct1", "50")
    assert out.stderr == ""
    assert out.stdout.count("\n") == 1 and "1" in out.stdout

    out = ok(ledger, "transfer", "acct1", "savings", "12.50", "-m", "rent buffer", "-k", "2026-11-rent")
    assert out.stdout.count("\n") == 1 and "2" in out.stdout
    transfer = events(ledger)[1]
    assert transfer["type"] == "transferred"
    assert (transfer["account"], transfer["to"], D(transfer["amount"])) == ("acct1", "savings", D("12.50"))
    assert (transfer["memo"], transfer["key"]) == ("rent buffer", "2026-11-rent")

    refused(ledger, 1, "withdraw", "acct1", "100", needles=("insufficient funds: acct1 has 37.50, needs 100",))

    out = ok(ledger, "balance")
    rows = dict(line.split("\t") for line in out.stdout.splitlines())
    assert {k: D(v) for k, v in rows.items()} == {"acct1": D("37.50"), "savings": D("12.50")}

    ok(ledger, "deposit", "assets:bank", "100", "-q")
    ok(ledger, "deposit", "assets:cash", "5", "-q")
    ok(ledger, "deposit", "assetsx", "1", "-q")
    data = json.loads(ok(ledger, "balance", "assets", "--json").stdout)
    assert D(data["total"]) == D(105)
    assert [row["account"] for row in data["accounts"]] == ["assets:bank", "assets:cash"]

    out = ok(ledger, "history", "acct1", "--format", "jsonl")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r for r in records if r["type"] == "withdrawn"] == []  # the refused withdrawal left no trace
    (moved,) = [r for r in records if r["type"] == "transferred"]
    assert D(moved["balance"]) == D("37.50") and moved["key"] == "2026-11-rent"

    head2 = events(ledger)[1]["hash"]
    data = json.loads(ok(ledger, "replay", "--until", "2", "--json").stdout)
    assert (data["seq"], data["events"], data["head"]) == (2, 2, head2)
    assert {r["account"]: D(r["balance"]) for r in data["accounts"]} == {"acct1": D("37.50"), "savings": D("12.50")}
    data = json.loads(ok(ledger, "replay", "--until", "2000-01-01", "--json").stdout)
    assert (data["seq"], data["events"], data["head"], data["accounts"]) == (0, 0, "0" * 64, [])

    out = ok(ledger, "verify")
    assert "5 events" in out.stdout and events(ledger)[-1]["hash"] in out.stdout


# ---- what a write prints -------------------------------------------------------------------------

WRITES = [
    ("open", ["open", "fresh"]),
    ("deposit", ["deposit", "acct1", "5"]),
    ("withdraw", ["withdraw", "acct1", "5"]),
    ("transfer", ["transfer", "acct1", "savings", "5"]),
    ("close", ["close", "empty"]),
    ("reverse", ["reverse", "1"]),
]


def _prepare(ledger: Runner) -> None:
    seed(ledger, Deposit("acct1", D(20)), Open("empty"))  # seq 1 and 2


@pytest.mark.parametrize(("name", "args"), WRITES, ids=[w[0] for w in WRITES])
def test_write_prints_one_line_naming_the_new_seq(ledger: Runner, name: str, args: list[str]) -> None:
    _prepare(ledger)
    out = ok(ledger, *args)
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert len(lines) == 1
    assert re.search(r"\b3\b", lines[0]), lines[0]
    assert len(ledger.lines()) == 3


@pytest.mark.parametrize(("name", "args"), WRITES, ids=[w[0] for w in WRITES])
def test_write_json_prints_the_recorded_event(ledger: Runner, name: str, args: list[str]) -> None:
    _prepare(ledger)
    out = ok(ledger, *args, "--json")
    assert out.stderr == ""
    printed = json.loads(out.stdout)
    assert out.stdout.count("\n") == 1
    assert printed == json.loads(ledger.lines()[-1])
    assert printed["seq"] == 3


@pytest.mark.parametrize(("name", "args"), WRITES, ids=[w[0] for w in WRITES])
@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_write_quiet_prints_nothing_but_records(ledger: Runner, name: str, args: list[str], flag: str) -> None:
    _prepare(ledger)
    out = ok(ledger, *args, flag)
    assert (out.stdout, out.stderr) == ("", "")
    assert len(ledger.lines()) == 3


def test_log_lines_carry_the_contract_fields_and_string_amounts(ledger: Runner) -> None:
    ok(ledger, "deposit", "acct1", "12.30", "-m", "pay", "-k", "k1")
    ok(ledger, "transfer", "acct1", "b", "2")
    first, second = events(ledger)
    assert first["amount"] == "12.30" and isinstance(second["amount"], str)
    assert (first["v"], first["seq"], first["type"], first["account"], first["memo"], first["key"]) == (
        2, 1, "deposited", "acct1", "pay", "k1",
    )  # fmt: skip
    assert first["date"] == second["date"] and len(first["date"]) == 10  # today, local time
    assert first["prev"] == "0" * 64 and second["prev"] == first["hash"]
    assert second["seq"] == 2 and second["to"] == "b"
    assert first["ts"].endswith("Z") and len(first["ts"]) == len("2025-01-01T00:00:00.000000Z")
    assert ledger.uri is not None or ledger.log.read_bytes().endswith(b"\n")


# ---- open and close --------------------------------------------------------------------------------


def test_open_records_account_opened_with_zero_balance(ledger: Runner) -> None:
    ok(ledger, "open", "acct1", "-m", "new")
    assert events(ledger)[0]["type"] == "account_opened" and events(ledger)[0]["memo"] == "new"
    assert balances(ledger) == {"acct1": (D(0), True)}


def test_open_refuses_an_account_already_open(ledger: Runner) -> None:
    ok(ledger, "open", "acct1")
    refused(ledger, 1, "open", "acct1", needles=("acct1",))
    ok(ledger, "deposit", "acct2", "1")
    refused(ledger, 1, "open", "acct2")


def test_close_refuses_a_nonzero_balance(ledger: Runner) -> None:
    ok(ledger, "deposit", "acct1", "5")
    refused(ledger, 1, "close", "acct1", needles=("acct1",))


def test_close_refuses_unknown_and_already_closed_accounts(ledger: Runner) -> None:
    ok(ledger, "deposit", "other", "1")
    refused(ledger, 1, "close", "ghost")
    ok(ledger, "open", "acct1")
    ok(ledger, "close", "acct1")
    refused(ledger, 1, "close", "acct1")


def test_close_at_zero_records_account_closed_and_marks_it(ledger: Runner) -> None:
    ok(ledger, "deposit", "acct1", "5")
    ok(ledger, "withdraw", "acct1", "5")
    ok(ledger, "close", "acct1")
    assert events(ledger)[-1]["type"] == "account_closed"
    assert balances(ledger) == {"acct1": (D(0), False)}


def test_closed_account_takes_no_deposit_withdrawal_or_transfer(ledger: Runner) -> None:
    ok(ledger, "deposit", "other", "10")
    ok(ledger, "open", "shut")
    ok(ledger, "close", "shut")
    refused(ledger, 1, "deposit", "shut", "1", needles=("shut",))
    refused(ledger, 1, "withdraw", "shut", "1", needles=("shut",))
    refused(ledger, 1, "transfer", "other", "shut", "1", needles=("shut",))
    refused(ledger, 1, "transfer", "shut", "other", "1", needles=("shut",))


def test_reopened_account_takes_deposits_again(ledger: Runner) -> None:
    ok(ledger, "open", "acct1")
    ok(ledger, "close", "acct1")
    ok(ledger, "open", "acct1")
    ok(ledger, "deposit", "acct1", "3")
    assert balances(ledger) == {"acct1": (D(3), True)}


# ---- deposit, withdraw, transfer ---------------------------------------------------------------------


def test_deposit_opens_a_new_account_and_adds_exactly(ledger: Runner) -> None:
    ok(ledger, "deposit", "acct1", "0.10")
    ok(ledger, "deposit", "acct1", "0.20")
    assert balances(ledger) == {"acct1": (D("0.30"), True)}
    assert [e["type"] for e in events(ledger)] == ["deposited", "deposited"]


def test_withdraw_subtracts_and_may_reach_zero(ledger: Runner) -> None:
    ok(ledger, "deposit", "acct1", "10.25")
    ok(ledger, "withdraw", "acct1", "0.25", "-m", "fee")
    ok(ledger, "withdraw", "acct1", "10")
    assert balances(ledger)["acct1"][0] == 0
    assert events(ledger)[1]["type"] == "withdrawn" and events(ledger)[1]["memo"] == "fee"


def test_withdraw_refuses_short_funds_saying_what_the_account_has(ledger: Runner) -> None:
    ok(ledger, "deposit", "acct1", "5")
    refused(ledger, 1, "withdraw", "acct1", "5.01", needles=("insufficient funds", "acct1 has 5", "needs 5.01"))


def test_withdraw_refuses_an_unknown_account(ledger: Runner) -> None:
    ok(ledger, "deposit", "other", "1")
    refused(ledger, 1, "withdraw", "ghost", "1", needles=("ghost",))


def test_transfer_is_one_event_and_opens_the_destination(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    ok(ledger, "transfer", "a", "b", "4")
    assert [e["type"] for e in events(ledger)] == ["deposited", "transferred"]
    assert balances(ledger) == {"a": (D(6), True), "b": (D(4), True)}


def test_transfer_refuses_short_funds_without_a_half_transfer(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    refused(ledger, 1, "transfer", "a", "b", "10.5", needles=("insufficient funds", "a has 10"))
    assert balances(ledger) == {"a": (D(10), True)}


def test_transfer_refuses_unknown_source(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    refused(ledger, 1, "transfer", "ghost", "b", "1", needles=("ghost",))
    refused(ledger, 1, "transfer", "ghost", "a", "1", needles=("ghost",))


def test_transfer_refuses_the_same_account_on_both_sides(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    refused(ledger, 1, "transfer", "a", "a", "1")


# ---- reverse -----------------------------------------------------------------------------------------


def test_reverse_undoes_a_deposit_withdrawal_and_transfer(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")  # 1
    ok(ledger, "withdraw", "a", "3")  # 2
    ok(ledger, "transfer", "a", "b", "2")  # 3
    assert balances(ledger) == {"a": (D(5), True), "b": (D(2), True)}
    ok(ledger, "reverse", "3", "-m", "oops")
    assert balances(ledger) == {"a": (D(7), True), "b": (D(0), True)}
    ok(ledger, "reverse", "2")
    assert balances(ledger)["a"][0] == 10
    ok(ledger, "reverse", "1")
    assert balances(ledger)["a"][0] == 0
    last = events(ledger)
    assert [e["type"] for e in last[3:]] == ["reversed"] * 3
    assert [e["target"] for e in last[3:]] == [3, 2, 1]
    assert last[3]["memo"] == "oops"


def test_reverse_refuses_an_event_already_reversed(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    ok(ledger, "reverse", "1")
    refused(ledger, 1, "reverse", "1", needles=("1",))


def test_reverse_refuses_what_is_not_a_money_movement(ledger: Runner) -> None:
    ok(ledger, "open", "a")  # 1
    ok(ledger, "deposit", "a", "1")  # 2
    ok(ledger, "reverse", "2")  # 3
    refused(ledger, 1, "reverse", "1")
    refused(ledger, 1, "reverse", "3")  # a reversal is not itself reversible


def test_reverse_refuses_when_undoing_would_overdraw(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    ok(ledger, "withdraw", "a", "8")
    refused(ledger, 1, "reverse", "1", needles=("insufficient funds",))


def test_reverse_refuses_a_seq_not_in_the_log(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    refused(ledger, 1, "reverse", "2")
    refused(ledger, 1, "reverse", "99")


@pytest.mark.parametrize("seq", ["0", "abc", "1.5", "", "١"])
def test_reverse_refuses_a_seq_that_is_not_a_positive_integer_with_2(ledger: Runner, seq: str) -> None:
    seed(ledger, Deposit("a", D(10)))
    refused(ledger, 2, "reverse", seq)


# ---- idempotency keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-k", "--idempotency-key"])
def test_key_retry_prints_the_existing_event_and_writes_nothing(ledger: Runner, flag: str) -> None:
    ok(ledger, "deposit", "acct1", "50", flag, "pay-1")
    before = ledger.snapshot()
    out = ok(ledger, "deposit", "acct1", "50", flag, "pay-1")
    assert ledger.snapshot() == before
    assert out.stderr == ""
    assert len(out.stdout.splitlines()) == 1 and "1" in out.stdout
    out = ok(ledger, "deposit", "acct1", "50", flag, "pay-1", "--json")
    assert json.loads(out.stdout) == json.loads(ledger.lines()[0])
    assert ledger.snapshot() == before


def test_key_retry_of_a_transfer_succeeds_even_when_funds_moved_since(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    ok(ledger, "transfer", "a", "b", "10", "-m", "all", "-k", "t1")
    before = ledger.snapshot()
    out = ok(ledger, "transfer", "a", "b", "10", "-m", "all", "-k", "t1", "--json")
    assert json.loads(out.stdout)["seq"] == 2
    assert ledger.snapshot() == before


@pytest.mark.parametrize(
    "retry",
    [
        ["deposit", "acct1", "51", "-k", "pay-1"],
        ["deposit", "acct2", "50", "-k", "pay-1"],
        ["deposit", "acct1", "50", "-m", "other memo", "-k", "pay-1"],
        ["withdraw", "acct1", "50", "-k", "pay-1"],
        ["open", "acct3", "-k", "pay-1"],
    ],
    ids=["amount", "account", "memo", "command", "open"],
)
def test_key_reused_with_another_payload_is_refused_with_1(ledger: Runner, retry: list[str]) -> None:
    seed(ledger, Deposit("acct1", D(50), None, "pay-1"))
    refused(ledger, 1, *retry, needles=("pay-1",))


# ---- where the log is, and refusing a log that cannot be trusted ----------------------------------


def test_file_option_beats_the_environment_variable(ledger: Runner, tmp_path: Path) -> None:
    other = tmp_path / "other" / "books.jsonl"
    ok(ledger, "-f", str(other), "deposit", "a", "1")
    ok(ledger, "--file", str(other), "deposit", "a", "2")
    assert not ledger.log.exists()
    assert len(other.read_text().splitlines()) == 2
    data = json.loads(ok(ledger, "-f", str(other), "balance", "--json").stdout)
    assert D(data["total"]) == 3
    assert json.loads(ok(ledger, "balance", "--json").stdout)["accounts"] == []


def test_environment_variable_names_the_log(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "1")
    assert len(ledger.lines()) == 1


def test_ledger_file_variable_is_never_read(ledger: Runner, tmp_path: Path) -> None:
    journal = tmp_path / "main.journal"
    journal.write_text("2024-01-01 opening\n    assets:bank  10\n    equity\n")
    out = ok(ledger, "deposit", "a", "1", env={"LEDGER_FILE": str(journal)})
    assert out.stderr == ""
    assert journal.read_text().startswith("2024-01-01 opening") and len(journal.read_text().splitlines()) == 3
    assert len(ledger.lines()) == 1


@pytest.mark.file_only
def test_first_write_creates_private_folders_and_file(ledger: Runner) -> None:
    assert not ledger.log.parent.exists()
    ok(ledger, "deposit", "a", "1")
    assert ledger.log.parent.stat().st_mode & 0o777 == 0o700
    assert ledger.log.stat().st_mode & 0o777 == 0o600


@pytest.mark.file_only
def test_write_to_a_plain_text_journal_is_refused_with_3(ledger: Runner) -> None:
    ledger.log.parent.mkdir(parents=True)
    ledger.log.write_text("2024-01-01 opening balance\n    assets:bank  100 EUR\n    equity:opening\n")
    out = refused(ledger, 3, "deposit", "a", "1")
    assert "journal" in out.stderr


@pytest.mark.file_only
def test_write_to_a_tampered_log_is_refused_with_3(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    ok(ledger, "deposit", "a", "20")
    text = ledger.log.read_text().replace('"amount":"10"', '"amount":"99"')
    ledger.log.write_text(text)
    refused(ledger, 3, "deposit", "a", "1", needles=("1",))


@pytest.mark.file_only
def test_write_while_another_writer_holds_the_lock_exits_4(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    lock = ledger.log.with_name(ledger.log.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        before = ledger.log.read_bytes()
        out = ledger("deposit", "a", "1", env={"LEDGER_CLI_LOCK_TIMEOUT": "0.05"})
        assert_error(out, 4)
        assert ledger.log.read_bytes() == before
    finally:
        os.close(fd)
    ok(ledger, "deposit", "a", "1", env={"LEDGER_CLI_LOCK_TIMEOUT": "0.05"})


@pytest.mark.file_only
def test_torn_last_line_is_moved_aside_by_the_next_write(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "10")
    whole = ledger.log.read_bytes()
    ledger.log.write_bytes(whole + b'{"account":"a","amo')
    out = ok(ledger, "deposit", "a", "1")
    assert "1" in out.stdout
    torn = ledger.log.with_name(ledger.log.name + ".torn")
    assert b'{"account":"a","amo' in torn.read_bytes()
    assert ledger.log.read_bytes().startswith(whole)
    assert [e["seq"] for e in events(ledger)] == [1, 2]
    assert ok(ledger, "verify").code == 0


def test_refused_writes_leave_a_missing_log_uncreated(ledger: Runner) -> None:
    refused(ledger, 1, "withdraw", "a", "1")
    refused(ledger, 1, "close", "a")
    refused(ledger, 1, "reverse", "1")
    refused(ledger, 2, "deposit", "a b", "1")
    assert ledger.snapshot() in (None, ([], []))  # no file made, no store created


# ---- both parsers read a command line the same way ------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [["-m", "X"], ["-mX"], ["-m=X"], ["--memo=X"], ["--memo", "=X"], ["-k", "abc"], ["-kabc"], ["-k=abc"],
     ["--idempotency-key=abc"], ["-m", "X", "-k=abc"]],
    ids=lambda o: " ".join(o),
)  # fmt: skip
def test_typer_and_fast_path_record_the_same_memo_and_key(tmp_path: Path, options: list[str]) -> None:
    """A command line means one thing: the fast path must parse options exactly as Click does."""
    recorded = {}
    for via in ("typer", "fast"):
        runner = Runner(via, tmp_path / via / "ledger.jsonl")
        out = runner("-f", str(runner.log), "deposit", "acct1", "5", *options)
        assert out.code == 0, out.stderr
        event = json.loads(runner.lines()[0])
        recorded[via] = (event.get("memo"), event.get("key"))
    assert recorded["fast"] == recorded["typer"]
