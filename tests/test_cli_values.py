"""CLI tests of the value rules of contract §3: amounts, accounts, memos, keys, points in time.

Every test runs through the Typer app and through the fast path (conftest's `ledger`).
Timestamps are pinned by writing the log with `ledger_cli.config.ledger_at(path, clock=...)`,
and the local time zone is set through TZ (POSIX zone strings, so no tz database is needed).
"""

from __future__ import annotations

import json
import os
import time
import unicodedata
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli.config import ledger_at
from ledger_cli.domain import Command, Deposit, Transfer, Withdraw
from tests.conftest import Outcome, Runner, seed

pytestmark = pytest.mark.both_stores  # (the tests of a file's own properties are file_only)

D = Decimal


def snapshot(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def ok(ledger: Runner, *args: str) -> Outcome:
    out = ledger(*args)
    assert out.code == 0, (out.stdout, out.stderr)
    return out


def assert_usage_error(out: Outcome) -> None:
    assert out.code == 2, (out.code, out.stdout, out.stderr)
    assert out.stdout == ""
    assert out.stderr.strip() != ""
    assert "Traceback" not in out.stderr


def refused_with_2(ledger: Runner, *args: str) -> Outcome:
    before = ledger.snapshot()
    out = ledger(*args)
    assert_usage_error(out)
    assert ledger.snapshot() == before
    return out


def balance_of(ledger: Runner, account: str) -> Decimal:
    data = json.loads(ok(ledger, "balance", account, "--json").stdout)
    rows = {row["account"]: D(row["balance"]) for row in data["accounts"]}
    return rows[account]


# ---- amounts -------------------------------------------------------------------------------------

REJECTED_AMOUNTS = ["NaN", "inf", "1e3", "-5", "0", "0.00", "1,000", "1_000", "+5", " 5", ".5", "5.", ""]
MORE_REJECTED = ["5 ", "Infinity", "-0", "0x10", "5e0", "١٢", "５", "1.2.3", "1. 5", "5\n",
                 "0.0000000000000000001", "1234567890123456789012345678901"]  # fmt: skip


def _amount_commands(amount: str) -> dict[str, list[str]]:
    return {
        "deposit": ["deposit", "acct1", amount],
        "withdraw": ["withdraw", "acct1", amount],
        "transfer": ["transfer", "acct1", "acct2", amount],
    }


@pytest.mark.parametrize("amount", REJECTED_AMOUNTS + MORE_REJECTED, ids=repr)
@pytest.mark.parametrize("command", ["deposit", "withdraw", "transfer"])
def test_rejected_amount_exits_2_and_leaves_the_log_unchanged(ledger: Runner, command: str, amount: str) -> None:
    seed(ledger, Deposit("acct1", D(100)))
    refused_with_2(ledger, *_amount_commands(amount)[command])


@pytest.mark.parametrize("amount", REJECTED_AMOUNTS, ids=repr)
def test_rejected_amount_on_a_fresh_machine_creates_no_log(ledger: Runner, amount: str) -> None:
    refused_with_2(ledger, "deposit", "acct1", amount)
    assert not ledger.log.exists()


def test_negative_amount_is_reported_as_one_ledger_error_line(ledger: Runner) -> None:
    """`-5` is in the contract's list of rejected amounts: the refusal is a normal one-line error."""
    out = refused_with_2(ledger, "deposit", "acct1", "-5")
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ledger: error:"), out.stderr


@pytest.mark.parametrize(
    "amount",
    ["0.000000000000000001", "123456789012.123456789012345678", "999999999999999999999999999999",
     "0.100000000000000000", "1"],
)  # fmt: skip
def test_amounts_up_to_18_places_and_30_digits_are_recorded_exactly(ledger: Runner, amount: str) -> None:
    ok(ledger, "deposit", "acct1", amount)
    recorded = json.loads(ledger.lines()[0])["amount"]
    assert isinstance(recorded, str) and D(recorded) == D(amount)
    assert balance_of(ledger, "acct1") == D(amount)


def test_sums_beyond_28_digits_stay_exact(ledger: Runner) -> None:
    ok(ledger, "deposit", "big", "999999999999999999999999999999")
    ok(ledger, "deposit", "big", "999999999999999999999999999999")
    ok(ledger, "deposit", "big", "0.000000000000000001")
    assert balance_of(ledger, "big") == D("1999999999999999999999999999998.000000000000000001")
    ok(ledger, "transfer", "big", "other", "999999999999999999999999999999")
    ok(ledger, "withdraw", "big", "0.000000000000000001")
    assert balance_of(ledger, "big") == D("999999999999999999999999999999")
    data = json.loads(ok(ledger, "balance", "--json").stdout)
    assert D(data["total"]) == D("1999999999999999999999999999998")


def test_decimal_arithmetic_is_never_float(ledger: Runner) -> None:
    ok(ledger, "deposit", "a", "0.1")
    ok(ledger, "deposit", "a", "0.2")
    ok(ledger, "withdraw", "a", "0.3")
    assert balance_of(ledger, "a") == 0
    ok(ledger, "deposit", "a", "1")
    ok(ledger, "withdraw", "a", "0.000000000000000001")
    assert balance_of(ledger, "a") == D("0.999999999999999999")


# ---- accounts ------------------------------------------------------------------------------------

DECOMPOSED = "cafe\u0301"  # e + COMBINING ACUTE ACCENT
COMPOSED = "caf\u00e9"


def test_account_name_is_stored_in_nfc(ledger: Runner) -> None:
    ok(ledger, "deposit", DECOMPOSED, "5")
    event = json.loads(ledger.lines()[0])
    assert event["account"] == COMPOSED
    assert all(DECOMPOSED not in line for line in ledger.lines())
    ok(ledger, "deposit", COMPOSED, "1")
    assert balance_of(ledger, COMPOSED) == 6
    data = json.loads(ok(ledger, "balance", DECOMPOSED, "--json").stdout)
    assert [(r["account"], D(r["balance"])) for r in data["accounts"]] == [(COMPOSED, D(6))]


def test_account_length_counts_after_nfc(ledger: Runner) -> None:
    name = DECOMPOSED[3:] * 128  # 256 code points, 128 after NFC
    assert len(unicodedata.normalize("NFC", name)) == 128
    ok(ledger, "deposit", name, "1")
    assert json.loads(ledger.lines()[0])["account"] == "\u00e9" * 128


VALID_ACCOUNTS = ["a", "acct1", "assets:bank:checking", "a_b", "a-b", "a.b", "a1:2b", "1", "日本:銀行", "été",
                  "x" * 128, "नमस्ते", "a:b-:c_"]  # fmt: skip


@pytest.mark.parametrize("name", VALID_ACCOUNTS)
def test_valid_account_names_are_accepted(ledger: Runner, name: str) -> None:
    ok(ledger, "deposit", name, "1")
    assert json.loads(ledger.lines()[0])["account"] == name


INVALID_ACCOUNTS = {
    "empty": "",
    "space": "a b",
    "leading space": " a",
    "trailing space": "a ",
    "tab": "a\tb",
    "newline": "a\nb",
    "nbsp": "a\u00a0b",
    "ideographic space": "a\u3000b",
    "control": "a\x01b",
    "escape": "a\x1bb",
    "del": "a\x7fb",
    "zero width space": "a\u200bb",
    "zero width joiner": "a\u200db",
    "zero width non-joiner": "a\u200cb",
    "bom": "\ufeffa",
    "rtl override": "a\u202eb",
    "lrm": "a\u200eb",
    "isolate": "a\u2066b",
    "line separator": "a\u2028b",
    "empty segment": "a::b",
    "leading colon": ":a",
    "trailing colon": "a:",
    "leading dash": "-a",
    "segment leading dash": "a:-b",
    "slash": "a/b",
    "at": "a@b",
    "too long": "x" * 129,
    "too long after nfc": "\u00e9" * 129,
}


@pytest.mark.parametrize("name", list(INVALID_ACCOUNTS.values()), ids=list(INVALID_ACCOUNTS))
def test_invalid_account_names_exit_2_and_write_nothing(ledger: Runner, name: str) -> None:
    seed(ledger, Deposit("acct1", D(10)))
    refused_with_2(ledger, "deposit", name, "1")
    refused_with_2(ledger, "transfer", "acct1", name, "1")
    refused_with_2(ledger, "open", name)


@pytest.mark.parametrize("name", ["a b", "a\u200bb", "a::b"], ids=["space", "zero width", "empty segment"])
def test_invalid_account_name_in_a_read_exits_2(ledger: Runner, name: str) -> None:
    seed(ledger, Deposit("acct1", D(10)))
    assert_usage_error(ledger("balance", name))
    assert_usage_error(ledger("history", name))


# ---- memos and keys ------------------------------------------------------------------------------


def test_memo_of_1000_characters_is_kept_whole(ledger: Runner) -> None:
    memo = "é" * 1000
    ok(ledger, "deposit", "a", "1", "-m", memo)
    assert json.loads(ledger.lines()[0])["memo"] == memo


@pytest.mark.parametrize(
    "memo",
    ["x" * 1001, "line\nbreak", "tab\there", "bell\x07", "esc\x1b[31m", "zero\u200bwidth", "bidi\u202eoverride",
     "nul\x00"],
    ids=["1001", "newline", "tab", "bell", "escape", "zero-width", "bidi", "nul"],
)  # fmt: skip
@pytest.mark.parametrize("command", ["deposit", "open"])
def test_bad_memo_exits_2_and_writes_nothing(ledger: Runner, memo: str, command: str) -> None:
    seed(ledger, Deposit("a", D(1)))
    args = ["deposit", "a", "1"] if command == "deposit" else ["open", "b"]
    refused_with_2(ledger, *args, "-m", memo)
    refused_with_2(ledger, *args, "--memo", memo)


def test_memo_may_hold_punctuation_quotes_and_emoji(ledger: Runner) -> None:
    memo = 'rent, "buffer"; 50% — ok 🎉'
    ok(ledger, "deposit", "a", "1", "-m", memo)
    assert json.loads(ledger.lines()[0])["memo"] == memo


def test_key_of_200_printable_characters_is_accepted(ledger: Runner) -> None:
    key = "k-" + "x" * 198
    ok(ledger, "deposit", "a", "1", "-k", key)
    assert json.loads(ledger.lines()[0])["key"] == key


@pytest.mark.parametrize(
    "key", ["", "x" * 201, "new\nline", "tab\t", "esc\x1b", "nul\x00"],
    ids=["empty", "201", "newline", "tab", "escape", "nul"],
)  # fmt: skip
def test_bad_key_exits_2_and_writes_nothing(ledger: Runner, key: str) -> None:
    seed(ledger, Deposit("a", D(1)))
    refused_with_2(ledger, "deposit", "a", "1", "-k", key)
    refused_with_2(ledger, "withdraw", "a", "1", "--idempotency-key", key)


# ---- points in time ------------------------------------------------------------------------------


@pytest.fixture
def local_tz() -> Iterator[Callable[[str], None]]:
    """Set the process's local time zone (TZ + tzset) for in-process runs; restored after."""
    saved = os.environ.get("TZ")

    def use(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield use
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def write_log(path: Path, entries: list[tuple[str, Command]]) -> None:
    for ts, command in entries:
        ledger_at(path, clock=lambda ts=ts: ts, use_cache=False).execute(command)


# Tokyo is UTC+9 (JST-9) and New York in winter UTC-5 (EST5): 2025-01-01 starts at
# 2024-12-31T15:00:00Z in Tokyo and 2025-01-01T05:00:00Z in New York.
TIMED = [
    ("2024-12-31T10:00:00.000000Z", Deposit("a", D("1"))),  # 1
    ("2024-12-31T14:59:59.999999Z", Deposit("a", D("2"))),  # 2: last instant of 2024 in Tokyo
    ("2024-12-31T15:00:00.000001Z", Deposit("a", D("4"))),  # 3: 2025-01-01 00:00:00.000001 in Tokyo
    ("2025-01-01T04:59:59.999999Z", Withdraw("a", D("1"))),  # 4: last instant of 2024 in New York
    ("2025-01-01T05:00:00.000001Z", Transfer("a", "b", D("0.5"))),  # 5: 00:00:00.000001 in New York
    ("2025-01-02T00:30:00.000000Z", Deposit("b", D("8"))),  # 6
]
BALANCE_AFTER = {0: D(0), 1: D(1), 2: D(3), 3: D(7), 4: D(6), 5: D("5.5"), 6: D("5.5")}  # of account a
TOTAL_AFTER = {0: D(0), 1: D(1), 2: D(3), 3: D(7), 4: D(6), 5: D(6), 6: D(14)}


@pytest.fixture(scope="module")
def timed_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("timed") / "ledger.jsonl"
    write_log(path, TIMED)
    return path.read_bytes()


@pytest.fixture
def timed_log(ledger: Runner, timed_bytes: bytes) -> Runner:
    ledger.install(timed_bytes)
    return ledger


def resolved(ledger: Runner, *args: str) -> tuple[int, str | None, Decimal]:
    """(seq, ts, total) a `balance --json` report says it resolved to."""
    data = json.loads(ok(ledger, "balance", "--json", *args).stdout)
    return data["seq"], data["ts"], D(data["total"])


@pytest.mark.parametrize("n", [0, 1, 3, 5, 6, 99])
def test_until_integer_is_an_event_seq(timed_log: Runner, n: int) -> None:
    seq, ts, total = resolved(timed_log, "--until", str(n))
    last = min(n, 6)
    assert seq == last
    assert ts == (TIMED[last - 1][0] if last else None)
    assert total == TOTAL_AFTER[last]


# On PostgreSQL the days are the books' zone's, whatever the reader's TZ (tests/test_pg_cli.py):
# the tests of the reader's zone below are the file store's.
@pytest.mark.file_only
@pytest.mark.parametrize(("zone", "last"), [("JST-9", 2), ("EST5", 4), ("UTC0", 3)])
def test_until_date_is_the_first_instant_of_that_day_in_local_time(
    timed_log: Runner, local_tz: Callable[[str], None], zone: str, last: int
) -> None:
    local_tz(zone)
    seq, ts, _ = resolved(timed_log, "--until", "2025-01-01")
    assert (seq, ts) == (last, TIMED[last - 1][0])
    data = json.loads(ok(timed_log, "balance", "a", "--until", "2025-01-01", "--json").stdout)
    assert D(data["accounts"][0]["balance"]) == BALANCE_AFTER[last]


def test_until_date_time_with_z_is_that_instant_inclusive(timed_log: Runner) -> None:
    assert resolved(timed_log, "--until", "2024-12-31T14:59:59.999999Z")[0] == 2
    assert resolved(timed_log, "--until", "2024-12-31T14:59:59.999998Z")[0] == 1
    assert resolved(timed_log, "--until", "2025-01-02T00:30:00Z")[0] == 6
    assert resolved(timed_log, "--until", "2025-01-02T00:29:59Z")[0] == 5


@pytest.mark.parametrize("zone", ["JST-9", "EST5"])
def test_until_date_time_with_an_offset_ignores_the_local_zone(
    timed_log: Runner, local_tz: Callable[[str], None], zone: str
) -> None:
    local_tz(zone)
    assert resolved(timed_log, "--until", "2025-01-01T00:00:00+09:00")[0] == 2
    assert resolved(timed_log, "--until", "2025-01-01T00:00:00.000001+09:00")[0] == 3
    assert resolved(timed_log, "--until", "2025-01-01T00:00:00-05:00")[0] == 4


@pytest.mark.file_only
@pytest.mark.parametrize(("zone", "last"), [("JST-9", 2), ("EST5", 4)])
def test_until_date_time_without_an_offset_is_local_time(
    timed_log: Runner, local_tz: Callable[[str], None], zone: str, last: int
) -> None:
    local_tz(zone)
    assert resolved(timed_log, "--until", "2024-12-31T23:59:59.999999")[0] == last
    assert resolved(timed_log, "--until", "2024-12-31 23:59:59.999999")[0] == last


@pytest.mark.file_only
@pytest.mark.parametrize(("zone", "first"), [("JST-9", 3), ("EST5", 5)])
def test_since_date_starts_at_local_midnight(
    timed_log: Runner, local_tz: Callable[[str], None], zone: str, first: int
) -> None:
    local_tz(zone)
    out = ok(timed_log, "history", "--since", "2025-01-01", "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in out.stdout.splitlines()] == list(range(first, 7))


def test_since_and_until_by_seq_are_inclusive(timed_log: Runner) -> None:
    out = ok(timed_log, "history", "--since", "2", "--until", "4", "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in out.stdout.splitlines()] == [2, 3, 4]


def test_since_date_time_is_inclusive_of_its_instant(timed_log: Runner) -> None:
    out = ok(timed_log, "history", "--since", "2024-12-31T14:59:59.999999Z", "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in out.stdout.splitlines()] == [2, 3, 4, 5, 6]


@pytest.mark.file_only
@pytest.mark.parametrize(("zone", "last"), [("JST-9", 2), ("EST5", 4)])
def test_replay_and_history_until_a_date_name_the_resolved_bound(
    timed_log: Runner, local_tz: Callable[[str], None], zone: str, last: int
) -> None:
    local_tz(zone)
    data = json.loads(ok(timed_log, "replay", "--until", "2025-01-01", "--json").stdout)
    head = json.loads(timed_log.lines()[last - 1])["hash"]
    assert (data["seq"], data["ts"], data["events"], data["head"]) == (last, TIMED[last - 1][0], last, head)
    out = ok(timed_log, "history", "--until", "2025-01-01", "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in out.stdout.splitlines()] == list(range(1, last + 1))


def test_tsv_balance_until_names_the_resolved_bound_on_stderr(timed_log: Runner) -> None:
    out = ok(timed_log, "balance", "--until", "2025-01-01T00:00:00Z", "--format", "tsv")
    (line,) = out.stdout.splitlines()
    name, amount = line.split("\t")
    assert (name, D(amount)) == ("a", D(7))
    assert "3" in out.stderr and TIMED[2][0] in out.stderr


BAD_POINTS = ["yesterday", "2025-13-01", "2025-02-30", "2025-1-1", "5.5", "-1", "", "2025-01-01T25:00:00Z",
              "2025-W01", "01/02/2025", "2025-01-01T00:00:00+25:00", "now", "1e3", "2025-01-01Tnoon"]  # fmt: skip


@pytest.mark.parametrize("point", BAD_POINTS, ids=repr)
def test_invalid_points_in_time_exit_2(timed_log: Runner, point: str) -> None:
    assert_usage_error(timed_log("balance", "--until", point))
    assert_usage_error(timed_log("replay", "--until", point))
    assert_usage_error(timed_log("history", "--until", point))
    assert_usage_error(timed_log("history", "--since", point))
