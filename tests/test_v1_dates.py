"""v1 logs (no `date`) under schema v2: contract section 7, README "Two kinds of time".

A v1 line has `"v": 1` and no `date`; its date is the local calendar date of its `ts` in the
reader's `TZ`. Such logs keep verifying and reading, byte for byte unchanged, may be followed by
v2 lines, and on them `--as-of D` gives the same books as `--until D+1` (the first instant of the
next local day). Every test runs the installed `ledger` script with `TZ` set and `-f LOG`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.helpers_log import GENESIS, seal

LEDGER = str(Path(sys.executable).parent / "ledger")
UTC, KIRITIMATI, LOS_ANGELES = "UTC", "Pacific/Kiritimati", "America/Los_Angeles"  # +0, +14, -8
ZONES = [UTC, KIRITIMATI, LOS_ANGELES]
DAYS = [str(date(2025, 12, 29) + timedelta(days=n)) for n in range(6)]  # 2025-12-29 .. 2026-01-03
Fields = dict[str, Any]

# Local midnight is 00:00Z in UTC, 10:00Z in Kiritimati, 08:00Z in Los Angeles: these stamps sit a
# microsecond either side of it, never on it, so one instant has different local days per zone.
CHAIN: list[tuple[str, Fields]] = [
    ("2025-12-30T09:00:00.000000Z", {"type": "account_opened", "account": "a"}),
    ("2025-12-30T09:05:00.000000Z", {"type": "deposited", "account": "a", "amount": "100"}),
    ("2025-12-30T20:00:00.000000Z", {"type": "account_opened", "account": "c", "memo": "side"}),
    ("2025-12-30T20:01:00.000000Z", {"type": "deposited", "account": "c", "amount": "7"}),
    ("2025-12-31T09:30:00.000000Z", {"type": "deposited", "account": "a", "amount": "10.50"}),
    ("2025-12-31T09:59:59.999999Z", {"type": "transferred", "account": "a", "to": "b", "amount": "20"}),
    ("2025-12-31T10:00:00.000001Z", {"type": "withdrawn", "account": "a", "amount": "5", "memo": "fee"}),
    ("2025-12-31T11:00:00.000000Z", {"type": "withdrawn", "account": "c", "amount": "7"}),
    ("2025-12-31T23:59:59.999999Z", {"type": "deposited", "account": "b", "amount": "1", "key": "k-1"}),
    ("2026-01-01T00:00:00.000001Z", {"type": "account_closed", "account": "c"}),
    ("2026-01-01T07:59:59.999999Z", {"type": "reversed", "to": "a", "amount": "5", "target": 7}),
    ("2026-01-01T08:00:00.000001Z", {"type": "deposited", "account": "a", "amount": "3"}),
    ("2026-01-02T10:30:00.000000Z", {"type": "withdrawn", "account": "b", "amount": "2"}),
]


def v1_log(chain: list[tuple[str, Fields]]) -> bytes:
    """The bytes of a correct v1 log of `chain`: seq, id and prev filled in, no `date`."""
    prev, data = GENESIS, b""
    for seq, (ts, extra) in enumerate(chain, start=1):
        line = seal({"v": 1, "seq": seq, "id": f"00000000-0000-7000-8000-{seq:012d}", "ts": ts, "prev": prev, **extra})
        prev, data = json.loads(line)["hash"], data + line
    return data


LOG = v1_log(CHAIN)


def ledger(tz: str, log: Path, *args: str, code: int = 0) -> str:
    """Run the installed `ledger -f LOG ARGS` under `TZ=tz`; insist on exit `code`; its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_FILE", "LEDGER_CLI_FILE")}
    env["TZ"] = tz
    done = subprocess.run([LEDGER, "-f", str(log), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == code, (tz, args, done.returncode, done.stdout, done.stderr)
    return done.stdout


def local_day(ts: str, tz: str) -> str:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(ZoneInfo(tz)).date().isoformat()


def day_of(event: Fields, tz: str) -> str:
    """The oracle: a v2 event's `date`, a v1 event's local day of `ts` in `tz`."""
    return event["date"] if event["v"] >= 2 else local_day(event["ts"], tz)


def expected_books(data: bytes, tz: str, day: str) -> tuple[dict[str, tuple[Decimal, bool]], Decimal]:
    """The books by date at the end of `day`, folded here: every account touched by an event
    dated on or before it, with its balance and whether its last open/close by then was an open."""
    balances: dict[str, Decimal] = {}
    opened: dict[str, bool] = {}
    for event in map(json.loads, data.splitlines()):
        if day_of(event, tz) > day:
            continue
        kind, source, target = event["type"], event.get("account"), event.get("to")
        amount = Decimal(event.get("amount", "0"))
        for name in (source, target):
            if name is not None:
                balances.setdefault(name, Decimal(0))
        if kind == "deposited":
            balances[source] += amount
        elif kind in ("withdrawn", "transferred", "reversed"):
            if source is not None:
                balances[source] -= amount
            if target is not None:
                balances[target] += amount
        elif kind in ("account_opened", "account_closed"):
            opened[source] = kind == "account_opened"
    rows = {name: (balance, opened.get(name, True)) for name, balance in balances.items()}
    return rows, sum(balances.values(), Decimal(0))


def books(report: str) -> tuple[dict[str, tuple[Decimal, bool]], Decimal]:
    """The accounts (balance, open) and total of a `balance`/`replay --json` report."""
    data = json.loads(report)
    return {r["account"]: (Decimal(r["balance"]), r["open"]) for r in data["accounts"]}, Decimal(data["total"])


def next_day(day: str) -> str:
    return str(date.fromisoformat(day) + timedelta(days=1))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "old.jsonl"
    path.write_bytes(LOG)
    return path


@pytest.mark.parametrize("tz", ZONES)
def test_verify_accepts_a_v1_log_in_every_zone(log: Path, tz: str) -> None:
    """`verify` exits 0 on the v1 log under each TZ, counting every line and naming its head."""
    head = json.loads(LOG.splitlines()[-1])["hash"]
    assert json.loads(ledger(tz, log, "verify", "--json")) == {
        "ok": True, "events": len(CHAIN), "head": head, "problems": [],
    }  # fmt: skip
    assert ledger(tz, log, "verify") == f"ok: {len(CHAIN)} events, head {head}\n"
    assert log.read_bytes() == LOG


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("tz", ZONES)
def test_as_of_a_day_is_until_the_next_local_midnight(log: Path, tz: str, day: str) -> None:
    """On a v1 log `--as-of D` gives the books of `--until D+1` in `balance`, `replay` and
    `accounts`, the same events in `history`, and the books of the oracle (v1 dated by local
    day); `seq`/`ts` stay the last event known (the log's end) and `as_of` names D.
    Balances compare as values: the contract lets a report keep the largest scale seen."""
    until = next_day(day)
    expected = expected_books(LOG, tz, day)
    for command in ("balance", "replay"):
        by_date = ledger(tz, log, command, "--as-of", day, "--json")
        by_time = ledger(tz, log, command, "--until", until, "--json")
        assert books(by_date) == books(by_time) == expected, (command, by_date, by_time)
        report = json.loads(by_date)
        assert (report["as_of"], report["seq"], report["ts"]) == (day, len(CHAIN), CHAIN[-1][0])
        assert json.loads(by_time)["as_of"] is None
    for bound, value in (("--as-of", day), ("--until", until)):  # values compared, not scales (section 3)
        accounts = json.loads(ledger(tz, log, "accounts", bound, value, "--json"))["accounts"]
        assert {r["account"]: (Decimal(r["balance"]), r["open"]) for r in accounts} == expected[0], bound
    history = [
        ledger(tz, log, "history", bound, value, "--format", "jsonl")
        for bound, value in (("--as-of", day), ("--until", until))
    ]
    assert history[0] == history[1]
    assert [json.loads(row)["seq"] for row in history[0].splitlines()] == [
        n for n, (ts, _) in enumerate(CHAIN, start=1) if local_day(ts, tz) <= day
    ]


def test_the_books_of_a_day_depend_on_the_readers_zone(log: Path) -> None:
    """One instant, two local days: 2025-12-31T11:00Z is 31 December in UTC and 1 January in
    Kiritimati, so the v1 books as of 2025-12-31 differ between the zones (a reader that
    ignored TZ would print the same answer twice)."""
    shown = {
        tz: ledger(tz, log, "history", "--until", "8", "--format", "tsv").splitlines()[-1] for tz in (UTC, KIRITIMATI)
    }
    assert shown[UTC].split("\t")[1:3] == ["2025-12-31T11:00:00.000000Z", "2025-12-31"]
    assert shown[KIRITIMATI].split("\t")[1:3] == ["2025-12-31T11:00:00.000000Z", "2026-01-01"]
    utc, kiritimati = (books(ledger(tz, log, "balance", "--as-of", "2025-12-31", "--json")) for tz in (UTC, KIRITIMATI))
    assert utc != kiritimati
    assert utc[0]["a"] == (Decimal("85.50"), True) and kiritimati[0]["a"] == (Decimal("90.50"), True)


@pytest.mark.parametrize("tz", ZONES)
def test_every_history_format_shows_each_v1_lines_local_date(log: Path, tz: str) -> None:
    """`history` shows the date of every v1 line, the local day of its `ts` under the reader's
    TZ: the TSV column after `ts`, the CSV and JSON field `date`, a JSON Lines row that is the
    log line with `"date"` added after `hash`, and the table's Date column."""
    lines = LOG.splitlines()
    dates = [local_day(ts, tz) for ts, _ in CHAIN]
    tsv = [row.split("\t") for row in ledger(tz, log, "history", "--format", "tsv").splitlines()]
    assert [(row[1], row[2]) for row in tsv] == [(ts, d) for (ts, _), d in zip(CHAIN, dates, strict=True)]
    assert [row.split("\t")[2] for row in ledger(tz, log, "history", "a").splitlines()] == [
        d for (_, fields), d in zip(CHAIN, dates, strict=True) if "a" in (fields.get("account"), fields.get("to"))
    ]
    rows = list(csv.DictReader(io.StringIO(ledger(tz, log, "history", "--format", "csv"))))
    assert [(r["v"], r["date"], r["hash"]) for r in rows] == [
        ("1", d, json.loads(n)["hash"]) for n, d in zip(lines, dates)
    ]
    assert [e["date"] for e in json.loads(ledger(tz, log, "history", "--json"))] == dates
    jsonl = ledger(tz, log, "history", "--format", "jsonl").encode().splitlines()
    assert jsonl == [line[:-1] + b',"date":"' + d.encode() + b'"}' for line, d in zip(lines, dates, strict=True)]
    table = ledger(tz, log, "history", "--format", "table")
    assert re.findall(r"\b\d{4}-\d{2}-\d{2}\b", table) == dates
    by_date = ledger(tz, log, "history", "--by-date", "--format", "tsv").splitlines()
    assert [row.split("\t")[2] for row in by_date] == dates  # v1 dates follow ts, so (date, seq) is log order


@pytest.mark.parametrize("tz", [UTC, KIRITIMATI])
def test_reads_leave_a_v1_log_byte_for_byte_unchanged(log: Path, tz: str) -> None:
    """No read rewrites, upgrades or appends to a v1 log: after every read command in every
    format (with and without checkpoints, by date and by time) the file has the same bytes and
    sha256; only the `.cache` folder beside it may appear."""
    digest = hashlib.sha256(LOG).hexdigest()
    reads: list[list[str]] = [["verify"], ["verify", "--json"], ["restatement", "--as-of", "2025-12-31", "--from", "6"]]
    for fmt in ("table", "tsv", "csv", "json", "jsonl"):
        for command in (["balance"], ["replay"], ["accounts"], ["history"], ["history", "a"], ["history", "--by-date"]):
            for bound in ([], ["--as-of", "2025-12-31"], ["--until", "2026-01-01", "--no-cache"]):
                reads.append([*command, *bound, "--format", fmt])
        reads.append(["restatement", "--as-of", "2026-01-01", "--from", "3", "--format", fmt])
    for args in reads:
        ledger(tz, log, *args)
        assert log.read_bytes() == LOG, args
        assert hashlib.sha256(log.read_bytes()).hexdigest() == digest, args
    assert sorted(p.name for p in log.parent.iterdir()) in (["old.jsonl"], ["old.jsonl", "old.jsonl.cache"])


@pytest.mark.parametrize("tz", [UTC, KIRITIMATI])
def test_a_log_may_mix_v1_and_v2_lines(log: Path, tz: str) -> None:
    """The CLI appends v2 lines (with `date`) after the v1 ones without touching them: the v1
    prefix stays byte-identical, `verify` exits 0 under both zones, and the books as of each day
    combine v1 lines by the reader's local day with v2 lines by their own date."""
    ledger(UTC, log, "deposit", "a", "5", "--date", "2025-12-30")
    ledger(UTC, log, "transfer", "a", "b", "2.25", "--date", "2025-12-31", "-m", "late")
    ledger(UTC, log, "withdraw", "b", "1", "--date", "2026-01-01")
    data = log.read_bytes()
    assert data.startswith(LOG)
    added = [json.loads(line) for line in data[len(LOG) :].splitlines()]
    assert [(e["v"], e["seq"], e["date"]) for e in added] == [
        (2, 14, "2025-12-30"), (2, 15, "2025-12-31"), (2, 16, "2026-01-01"),
    ]  # fmt: skip
    for zone in (UTC, KIRITIMATI):
        assert json.loads(ledger(zone, log, "verify", "--json"))["events"] == len(CHAIN) + 3
    for day in DAYS:
        assert books(ledger(tz, log, "balance", "--as-of", day, "--json")) == expected_books(data, tz, day), day
    history = json.loads(ledger(tz, log, "history", "--as-of", "2025-12-30", "--json"))
    assert [(e["seq"], e["date"]) for e in history if e["seq"] > len(CHAIN)] == [(14, "2025-12-30")]
    assert [e["date"] for e in history if e["v"] == 1] == [
        d for d in (local_day(ts, tz) for ts, _ in CHAIN) if d <= "2025-12-30"
    ]
    assert log.read_bytes() == data


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("tz", [UTC, KIRITIMATI])
def test_an_account_opened_before_its_first_entry_is_in_the_books_from_that_day(
    tmp_path: Path, tz: str, day: str
) -> None:
    """An explicit v1 `account_opened` makes the account exist from the local day of its ts,
    as `--until` sees it: `early` (opened two days before its first deposit) and `idle` (only
    ever opened) are listed by `--as-of D` exactly when `--until D+1` lists them."""
    log = tmp_path / "opens.jsonl"
    log.write_bytes(v1_log([
        ("2025-12-29T12:00:00.000000Z", {"type": "account_opened", "account": "early"}),
        ("2025-12-30T12:00:00.000000Z", {"type": "account_opened", "account": "idle"}),
        ("2025-12-31T12:00:00.000000Z", {"type": "deposited", "account": "early", "amount": "5"}),
    ]))  # fmt: skip
    for command in ("balance", "accounts"):
        by_date = ledger(tz, log, command, "--as-of", day, "--json")
        by_time = ledger(tz, log, command, "--until", next_day(day), "--json")
        listed = [
            {r["account"]: (Decimal(r["balance"]), r["open"]) for r in json.loads(out)["accounts"]}
            for out in (by_date, by_time)
        ]
        assert listed[0] == listed[1], (command, by_date, by_time)


@pytest.mark.parametrize("tz", ZONES)
def test_an_entry_at_local_midnight_belongs_to_the_new_day(tmp_path: Path, tz: str) -> None:
    """A v1 deposit stamped exactly at local midnight starting 2026-01-01 is dated 2026-01-01,
    so it is outside `--as-of 2025-12-31`. `--until 2026-01-01` names that very instant and is
    inclusive of it (contract section 3), so it counts the deposit: the one documented
    exception to `--as-of D` = `--until D+1` (README, Decisions). `--until` the microsecond
    before midnight gives the as-of books."""
    midnight = datetime(2026, 1, 1, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)
    stamp = midnight.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    just_before = (midnight - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    log = tmp_path / "midnight.jsonl"
    log.write_bytes(v1_log([
        ("2025-12-30T12:00:00.000000Z", {"type": "deposited", "account": "a", "amount": "10"}),
        (stamp, {"type": "deposited", "account": "a", "amount": "1"}),
    ]))  # fmt: skip
    assert ledger(tz, log, "history", "--format", "tsv").splitlines()[1].split("\t")[1:3] == [stamp, "2026-01-01"]
    by_date = books(ledger(tz, log, "balance", "--as-of", "2025-12-31", "--json"))
    assert by_date == ({"a": (Decimal(10), True)}, Decimal(10))
    assert books(ledger(tz, log, "balance", "--until", just_before, "--json")) == by_date
    assert books(ledger(tz, log, "balance", "--until", "2026-01-01", "--json")) == (
        {"a": (Decimal(11), True)},
        Decimal(11),
    )
