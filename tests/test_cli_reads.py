"""CLI tests of the read commands: balance, history, replay, accounts, verify, in every format.

Every test runs through the Typer app and the fast path (conftest's `ledger`). A small book is
written once with pinned timestamps (ledger_cli.config.ledger_at with a fake clock) and copied
into each test's log, so the reads are checked against known values.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli.config import ledger_at
from ledger_cli.domain import Close, Command, Deposit, Open, Transfer, Withdraw
from tests.conftest import Outcome, Runner

pytestmark = pytest.mark.both_stores  # (the tests of a file's own properties are file_only)

D = Decimal
MEMO = 'salary, "march"'

BOOK: list[tuple[str, Command]] = [
    ("2025-01-10T09:00:00.000000Z", Deposit("assets:bank", D("100.00"), MEMO)),  # 1
    ("2025-01-11T09:00:00.000000Z", Deposit("assets:cash", D("20"))),  # 2
    ("2025-01-12T09:00:00.000000Z", Transfer("assets:bank", "expenses:rent", D("30"), "rent")),  # 3
    ("2025-01-13T09:00:00.000000Z", Transfer("assets:bank", "assets:cash", D("10.5"))),  # 4
    ("2025-01-14T09:00:00.000000Z", Deposit("assetsx", D("7"))),  # 5
    ("2025-01-15T09:00:00.000000Z", Open("old")),  # 6
    ("2025-01-16T09:00:00.000000Z", Close("old")),  # 7
    ("2025-01-17T09:00:00.000000Z", Withdraw("assets:cash", D("5"), None, "w-1")),  # 8
]
FINAL = {
    "assets:bank": (D("59.5"), True),
    "assets:cash": (D("25.5"), True),
    "assetsx": (D(7), True),
    "expenses:rent": (D(30), True),
    "old": (D(0), False),
}
TOTAL = D(122)
# Running balance of `assets` (assets:bank + assets:cash) on the events that touch it.
ASSETS_RUNNING = [(1, D(100)), (2, D(120)), (3, D(90)), (4, D(90)), (8, D(85))]
FORMATS = ["table", "tsv", "csv", "json", "jsonl"]


@pytest.fixture(scope="module")
def book_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("book") / "ledger.jsonl"
    for ts, command in BOOK:
        ledger_at(path, clock=lambda ts=ts: ts, use_cache=False).execute(command)
    return path.read_bytes()


@pytest.fixture
def book(ledger: Runner, book_bytes: bytes) -> Runner:
    ledger.install(book_bytes)
    return ledger


def ok(ledger: Runner, *args: str) -> Outcome:
    # Tables are drawn for a standard 80-column terminal whatever the caller's COLUMNS.
    out = ledger(*args, env={"COLUMNS": "80"} if "table" in args else None)
    assert out.code == 0, (out.stdout, out.stderr)
    return out


def assert_error(out: Outcome, code: int, *needles: str) -> None:
    assert out.code == code, (out.code, out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ledger: error:"), out.stderr
    for needle in needles:
        assert needle in lines[0]


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def csv_header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text, newline="")))


def as_bool(text: str) -> bool:
    assert text.lower() in ("true", "false"), text
    return text.lower() == "true"


def log_events(ledger: Runner) -> list[dict[str, object]]:
    return [json.loads(line) for line in ledger.lines()]


# ---- balance -------------------------------------------------------------------------------------


def test_balance_default_in_a_pipe_is_tsv_without_header_or_total(book: Runner) -> None:
    out = ok(book, "balance")
    assert out.stdout == ok(book, "balance", "--format", "tsv").stdout
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert all(len(row) == 2 for row in rows)
    assert {name: D(amount) for name, amount in rows} == {name: bal for name, (bal, _) in FINAL.items()}
    assert len(rows) == len(FINAL)  # no header, no total row
    assert out.stderr == ""


def test_balance_csv_has_the_header_account_balance_open(book: Runner) -> None:
    out = ok(book, "balance", "--format", "csv")
    assert csv_header(out.stdout) == ["account", "balance", "open"]
    rows = parse_csv(out.stdout)
    assert {r["account"]: (D(r["balance"]), as_bool(r["open"])) for r in rows} == FINAL


@pytest.mark.parametrize("flags", [["--json"], ["--format", "json"]])
def test_balance_json_has_seq_ts_accounts_and_total(book: Runner, flags: list[str]) -> None:
    out = ok(book, "balance", *flags)
    data = json.loads(out.stdout)
    assert set(data) == {"seq", "ts", "as_of", "accounts", "total"} and data["as_of"] is None
    assert (data["seq"], data["ts"]) == (8, BOOK[-1][0])
    assert isinstance(data["total"], str) and D(data["total"]) == TOTAL
    for row in data["accounts"]:
        assert set(row) == {"account", "balance", "open"} and isinstance(row["balance"], str)
    assert {r["account"]: (D(r["balance"]), r["open"]) for r in data["accounts"]} == FINAL
    assert out.stderr == ""


def test_balance_jsonl_gives_one_account_object_per_line(book: Runner) -> None:
    out = ok(book, "balance", "--format", "jsonl")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["account"]: (D(r["balance"]), r["open"]) for r in rows} == FINAL


def test_balance_table_names_every_account_and_marks_the_closed_one(book: Runner) -> None:
    out = ok(book, "balance", "--format", "table")
    for name in FINAL:
        assert name in out.stdout
    old_line = next(line for line in out.stdout.splitlines() if "old" in line)
    assert "closed" in old_line.lower()
    assert "assets:bank" not in out.stderr


def test_balance_lists_zero_and_closed_accounts(book: Runner) -> None:
    data = json.loads(ok(book, "balance", "--json").stdout)
    (old,) = [r for r in data["accounts"] if r["account"] == "old"]
    assert (D(old["balance"]), old["open"]) == (D(0), False)
    assert all(r["open"] for r in data["accounts"] if r["account"] != "old")


def test_balance_account_matches_its_sub_accounts_only_at_segment_boundaries(book: Runner) -> None:
    data = json.loads(ok(book, "balance", "assets", "--json").stdout)
    assert [r["account"] for r in data["accounts"]] == ["assets:bank", "assets:cash"]
    assert D(data["total"]) == D(85)
    data = json.loads(ok(book, "balance", "assets:bank", "--json").stdout)
    assert [r["account"] for r in data["accounts"]] == ["assets:bank"]
    data = json.loads(ok(book, "balance", "assetsx", "expenses", "--json").stdout)
    assert [r["account"] for r in data["accounts"]] == ["assetsx", "expenses:rent"]
    assert D(data["total"]) == D(37)


@pytest.mark.parametrize("names", [["ghost"], ["ass"], ["assets:ban"], ["assets", "ghost"], ["assets:bank:x"]])
def test_balance_of_a_name_matching_nothing_exits_1(book: Runner, names: list[str]) -> None:
    assert_error(book("balance", *names), 1)
    assert_error(book("balance", *names, "--json"), 1)


def test_balance_until_a_seq_shows_the_books_then(book: Runner) -> None:
    data = json.loads(ok(book, "balance", "--until", "6", "--json").stdout)
    assert (data["seq"], data["ts"]) == (6, BOOK[5][0])
    rows = {r["account"]: (D(r["balance"]), r["open"]) for r in data["accounts"]}
    assert rows["old"] == (D(0), True)
    assert rows["assets:cash"] == (D("30.5"), True)
    assert_error(book("balance", "old", "--until", "5"), 1)  # it did not exist yet


def test_balance_no_cache_gives_the_same_report(book: Runner) -> None:
    assert ok(book, "balance", "--json", "--no-cache").stdout == ok(book, "balance", "--json").stdout


@pytest.mark.parametrize("command", ["balance", "history", "replay", "accounts"])
def test_unknown_format_exits_2(book: Runner, command: str) -> None:
    assert_error(book(command, "--format", "xml"), 2)


# ---- history -------------------------------------------------------------------------------------


def test_history_jsonl_gives_the_log_events_in_order(book: Runner) -> None:
    out = ok(book, "history", "--format", "jsonl")
    assert [json.loads(line) for line in out.stdout.splitlines()] == log_events(book)


def test_history_json_is_the_list_of_events(book: Runner) -> None:
    assert json.loads(ok(book, "history", "--json").stdout) == log_events(book)


def test_history_jsonl_of_an_account_adds_its_running_balance(book: Runner) -> None:
    out = ok(book, "history", "assets", "--format", "jsonl")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["seq"], D(r["balance"])) for r in records] == ASSETS_RUNNING
    by_seq = {e["seq"]: e for e in log_events(book)}
    for record in records:
        assert {k: v for k, v in record.items() if k != "balance"} == by_seq[record["seq"]]


def test_history_of_a_leaf_account_runs_its_own_balance(book: Runner) -> None:
    out = ok(book, "history", "assets:cash", "--format", "jsonl")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["seq"], D(r["balance"])) for r in records] == [(2, D(20)), (4, D("30.5")), (8, D("25.5"))]


def test_history_jsonl_filtered_by_type_like_jq_select(book: Runner) -> None:
    out = ok(book, "history", "assets", "--format", "jsonl")
    withdrawn = [r for r in map(json.loads, out.stdout.splitlines()) if r["type"] == "withdrawn"]
    assert [(r["seq"], r["account"], D(r["amount"]), r["key"]) for r in withdrawn] == [(8, "assets:cash", D(5), "w-1")]


def test_history_tsv_has_no_header_and_starts_with_the_seq(book: Runner) -> None:
    out = ok(book, "history")
    assert out.stdout == ok(book, "history", "--format", "tsv").stdout
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert [int(row[0]) for row in rows] == list(range(1, 9))
    assert all(BOOK[i][0] in rows[i] for i in range(8))
    out = ok(book, "history", "assets", "--format", "tsv")
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert [(int(row[0]), D(row[-1])) for row in rows] == ASSETS_RUNNING


def test_history_csv_round_trips_memos_with_commas_and_quotes(book: Runner) -> None:
    out = ok(book, "history", "--format", "csv")
    rows = parse_csv(out.stdout)
    assert [int(r["seq"]) for r in rows] == list(range(1, 9))
    assert rows[0]["memo"] == MEMO
    assert (rows[2]["account"], rows[2]["to"], D(rows[2]["amount"])) == ("assets:bank", "expenses:rent", D(30))


def test_history_csv_with_an_account_has_a_balance_column(book: Runner) -> None:
    rows = parse_csv(ok(book, "history", "assets", "--format", "csv").stdout)
    assert [(int(r["seq"]), D(r["balance"])) for r in rows] == ASSETS_RUNNING


def test_history_csv_header_names_the_same_fields_as_json(book: Runner) -> None:
    header = csv_header(ok(book, "history", "--format", "csv").stdout)
    fields = {key for event in json.loads(ok(book, "history", "--json").stdout) for key in event}
    assert fields <= set(header), sorted(fields - set(header))


def test_history_table_shows_the_account_names_on_an_80_column_terminal(book: Runner) -> None:
    out = ok(book, "history", "assets", "--format", "table")
    for name in ("assets:bank", "assets:cash", "expenses:rent"):
        assert name in out.stdout


@pytest.mark.parametrize(("n", "expected"), [(0, []), (1, [8]), (3, [6, 7, 8]), (100, list(range(1, 9)))])
def test_history_last_n_keeps_the_last_n_events(book: Runner, n: int, expected: list[int]) -> None:
    out = ok(book, "history", "--last", str(n), "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in out.stdout.splitlines()] == expected


def test_history_last_n_of_an_account_keeps_running_balances(book: Runner) -> None:
    out = ok(book, "history", "assets", "--last", "2", "--format", "jsonl")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["seq"], D(r["balance"])) for r in records] == ASSETS_RUNNING[-2:]


def test_history_since_keeps_balances_running_from_the_start(book: Runner) -> None:
    out = ok(book, "history", "assets", "--since", "3", "--format", "jsonl")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["seq"], D(r["balance"])) for r in records] == ASSETS_RUNNING[2:]


@pytest.mark.parametrize("bad", ["-1", "x"])
def test_history_last_must_be_a_whole_number(book: Runner, bad: str) -> None:
    out = book("history", "--last", bad)
    assert out.code == 2 and out.stdout == "" and out.stderr != ""


@pytest.mark.parametrize("name", ["ghost", "ass"])
def test_history_of_an_unknown_account_exits_1(book: Runner, name: str) -> None:
    assert_error(book("history", name), 1, name)


# ---- replay --------------------------------------------------------------------------------------


def test_replay_json_adds_events_and_head_to_the_balance_report(book: Runner) -> None:
    data = json.loads(ok(book, "replay", "--json").stdout)
    assert set(data) == {"seq", "ts", "as_of", "accounts", "total", "events", "head"}
    head = log_events(book)[-1]["hash"]
    assert (data["seq"], data["ts"], data["events"], data["head"]) == (8, BOOK[-1][0], 8, head)
    assert {r["account"]: (D(r["balance"]), r["open"]) for r in data["accounts"]} == FINAL
    assert D(data["total"]) == TOTAL


@pytest.mark.parametrize("k", range(0, 9))
def test_replay_until_seq_k_equals_the_books_after_k_events(book: Runner, k: int) -> None:
    data = json.loads(ok(book, "replay", "--until", str(k), "--json").stdout)
    balance = json.loads(ok(book, "balance", "--until", str(k), "--json").stdout)
    assert (data["seq"], data["events"]) == (k, k)
    assert data["head"] == (log_events(book)[k - 1]["hash"] if k else "0" * 64)
    assert data["accounts"] == balance["accounts"] and D(data["total"]) == D(balance["total"])


def test_replay_until_a_date_applies_the_events_before_it(book: Runner) -> None:
    data = json.loads(ok(book, "replay", "--until", "2025-01-13T09:00:00Z", "--json").stdout)
    assert (data["seq"], data["head"]) == (4, log_events(book)[3]["hash"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_replay_prints_every_format(book: Runner, fmt: str) -> None:
    out = ok(book, "replay", "--until", "7", "--format", fmt)
    for name in FINAL:
        assert name in out.stdout
    if fmt == "csv":
        assert csv_header(out.stdout) == ["account", "balance", "open"]
        rows = parse_csv(out.stdout)
        assert {r["account"]: as_bool(r["open"]) for r in rows}["old"] is False
    if fmt == "tsv":
        assert {line.split("\t")[0] for line in out.stdout.splitlines()} == set(FINAL)


def test_replay_tsv_says_the_resolved_bound_and_head_on_stderr(book: Runner) -> None:
    out = ok(book, "replay", "--until", "4", "--format", "tsv")
    assert log_events(book)[3]["hash"] in out.stderr
    assert BOOK[3][0] in out.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_balance_until_says_the_resolved_bound_in_every_format(book: Runner, fmt: str) -> None:
    out = ok(book, "balance", "--until", "2025-01-13T12:00:00Z", "--format", fmt)
    said = "".join((out.stdout + out.stderr).split())  # a table may wrap its caption
    assert BOOK[3][0] in said, (out.stdout, out.stderr)


@pytest.mark.parametrize("fmt", FORMATS)
def test_replay_says_the_seq_and_head_hash_in_every_format(book: Runner, fmt: str) -> None:
    out = ok(book, "replay", "--until", "4", "--format", fmt)
    said = "".join((out.stdout + out.stderr).split())
    assert log_events(book)[3]["hash"] in said, (out.stdout, out.stderr)
    assert BOOK[3][0] in said


# ---- accounts ------------------------------------------------------------------------------------


def test_accounts_json_lists_open_and_closed_accounts(book: Runner) -> None:
    data = json.loads(ok(book, "accounts", "--json").stdout)
    rows = data["accounts"] if isinstance(data, dict) else data
    assert {r["account"]: r["open"] for r in rows} == {name: is_open for name, (_, is_open) in FINAL.items()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_accounts_prints_every_format(book: Runner, fmt: str) -> None:
    out = ok(book, "accounts", "--format", fmt)
    for name in FINAL:
        assert name in out.stdout
    if fmt == "csv":
        rows = parse_csv(out.stdout)
        assert {r["account"]: as_bool(r["open"]) for r in rows} == {n: o for n, (_, o) in FINAL.items()}
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        assert {r["account"]: r["open"] for r in rows} == {n: o for n, (_, o) in FINAL.items()}
    if fmt == "tsv":
        assert [line.split("\t")[0] for line in out.stdout.splitlines()] == sorted(FINAL)


def test_accounts_default_in_a_pipe_is_tsv_marking_the_closed_account(book: Runner) -> None:
    out = ok(book, "accounts")
    rows = dict(line.split("\t")[:2] for line in out.stdout.splitlines())
    assert rows["old"] == "closed" and rows["assets:bank"] == "open"


# ---- verify --------------------------------------------------------------------------------------


def test_verify_reports_the_event_count_and_head(book: Runner) -> None:
    out = ok(book, "verify")
    head = log_events(book)[-1]["hash"]
    assert "8" in out.stdout and head in out.stdout and len(out.stdout.splitlines()) == 1


def test_verify_json_gives_ok_events_head_problems(book: Runner) -> None:
    data = json.loads(ok(book, "verify", "--json").stdout)
    assert data == {"ok": True, "events": 8, "head": log_events(book)[-1]["hash"], "problems": []}


@pytest.mark.parametrize("fmt", FORMATS)
def test_verify_prints_every_format(book: Runner, fmt: str) -> None:
    out = ok(book, "verify", "--format", fmt)
    head = log_events(book)[-1]["hash"]
    assert head in out.stdout
    if fmt in ("json", "jsonl"):
        assert json.loads(out.stdout) == {"ok": True, "events": 8, "head": head, "problems": []}


def _tamper(ledger: Runner, line: int, old: str, new: str) -> None:
    lines = ledger.log.read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new)
    ledger.log.write_text("".join(lines), encoding="utf-8")


@pytest.mark.file_only
def test_verify_names_the_first_edited_line_and_exits_3(book: Runner) -> None:
    _tamper(book, 3, '"amount":"30"', '"amount":"3"')
    before = book.log.read_bytes()
    out = book("verify")
    assert out.code == 3 and out.stdout == ""
    assert "line 3" in out.stderr and "Traceback" not in out.stderr
    out = book("verify", "--json")
    assert out.code == 3
    data = json.loads(out.stdout)
    assert data["ok"] is False and data["problems"] and "line 3" in data["problems"][0]
    assert book.log.read_bytes() == before


@pytest.mark.file_only
def test_verify_names_a_missing_line(book: Runner) -> None:
    lines = book.log.read_bytes().splitlines(keepends=True)
    book.log.write_bytes(b"".join(lines[:4] + lines[5:]))
    out = book("verify")
    assert out.code == 3 and "line 5" in out.stderr


@pytest.mark.file_only
def test_verify_catches_a_rewritten_line_with_a_fresh_hash(book: Runner) -> None:
    """Re-hashing an edited line still breaks the chain: the next line's prev no longer matches."""
    import hashlib

    lines = book.log.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[1])
    event["amount"] = "2000"
    del event["hash"]
    body = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    event["hash"] = hashlib.sha256(body.encode()).hexdigest()
    lines[1] = body[:-1] + ',"hash":"' + event["hash"] + '"}'
    book.log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = book("verify")
    assert out.code == 3 and "line 3" in out.stderr


@pytest.mark.file_only
@pytest.mark.parametrize("command", [["balance"], ["history"], ["replay"], ["accounts"], ["balance", "--json"]])
def test_reads_of_a_tampered_log_exit_3_with_one_error_line(book: Runner, command: list[str]) -> None:
    _tamper(book, 2, '"amount":"20"', '"amount":"21"')
    assert_error(book(*command), 3, "line 2")


@pytest.mark.file_only
def test_reads_ignore_a_torn_last_line_with_a_warning(book: Runner) -> None:
    before = book.log.read_bytes()
    book.log.write_bytes(before + b'{"account":"assets:ba')
    out = ok(book, "balance", "--json")
    assert D(json.loads(out.stdout)["total"]) == TOTAL
    assert "warning" in out.stderr
    checked = ok(book, "verify", "--json")
    assert json.loads(checked.stdout)["ok"] is True
    assert "warning: ignoring 21 bytes of an interrupted write" in checked.stderr
    assert book.log.read_bytes() == before + b'{"account":"assets:ba'


# ---- a missing log is an empty ledger ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("command", ["balance", "history", "replay", "accounts"])
def test_missing_log_reads_as_empty_without_creating_it(ledger: Runner, command: str, fmt: str) -> None:
    out = ok(ledger, command, "--format", fmt)
    assert "error" not in out.stderr
    if fmt in ("tsv", "jsonl"):
        assert out.stdout == ""
    if fmt == "csv":
        assert len(list(csv.reader(io.StringIO(out.stdout, newline="")))) == 1  # the header only
    assert not ledger.log.exists() and not ledger.log.parent.exists()


def test_missing_log_balance_json_is_seq_0_ts_null(ledger: Runner) -> None:
    data = json.loads(ok(ledger, "balance", "--json").stdout)
    assert (data["seq"], data["ts"], data["accounts"], D(data["total"])) == (0, None, [], D(0))
    data = json.loads(ok(ledger, "replay", "--json").stdout)
    assert (data["seq"], data["events"], data["head"]) == (0, 0, "0" * 64)
    assert json.loads(ok(ledger, "history", "--json").stdout) == []


def test_missing_log_verifies_as_zero_events(ledger: Runner) -> None:
    data = json.loads(ok(ledger, "verify", "--json").stdout)
    assert data == {"ok": True, "events": 0, "head": "0" * 64, "problems": []}
    assert not ledger.log.exists()


def test_file_option_reads_another_log(book: Runner, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.jsonl"
    other.write_text(book.lines()[0] + "\n", encoding="utf-8")
    data = json.loads(ok(book, "-f", str(other), "balance", "--json").stdout)
    assert data["seq"] == 1 and D(data["total"]) == D(100)
