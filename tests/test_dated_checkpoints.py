"""The books by date from checkpoints (contract section 7; issue 10's "checkpoints stay a derived
cache"): `head.json` and the snapshots leave the changes per day out (`head.days` and
`head.offday` hold them beside the head), `--as-of D` is answered from the state at D's end plus
the later entries dated on or before D, and a backdated debit loads one account's days. Each
answer must be the one a full fold gives (`--no-cache`), in three time zones (in Los Angeles
the UTC-dated entries of the early hours are dated after their local day, which takes the
exact path), and after the files beside the checkpoint are damaged or removed.

The log is generated in-process: a few thousand v2 events over some weeks, 5% of the deposits
and withdrawals backdated by up to 20 days, a few backdated opens; every event is kept only if
the domain's own rules accept it (check, evolve), so the log is one a writer could have made.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_cli.books import State, low_from
from ledger_cli.codec import seal
from ledger_cli.domain import check, evolve
from ledger_cli.events import GENESIS, Event

LEDGER = Path(sys.executable).parent / "ledger"
ZONES = ("UTC", "Pacific/Kiritimati", "America/Los_Angeles")
ACCOUNTS = ("bank", "cash", "card", "savings", "trip")
START = datetime(2025, 3, 1)
EVENTS = 2600
# A --known-at past the end: the whole log, folded from its first line and then filtered by date
# (books.as_of), not answered from the state at the day's end (books.as_of_cut).
EXACT = ("--known-at", "999999999")
DAYS = [(START + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(-22, 34, 3)]


def build(path: Path, seed: int) -> State:
    """Write a valid dated log to `path` and return its books (folded by the domain)."""
    rng = random.Random(seed)
    state = State()
    lines: list[bytes] = []
    prev, moment, seq = GENESIS, START, 0
    while seq < EVENTS:
        moment += timedelta(seconds=rng.randrange(0, 1500))
        ts = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        day = moment.strftime("%Y-%m-%d")
        if rng.random() < 0.05:
            day = (moment - timedelta(days=rng.randint(1, 20))).strftime("%Y-%m-%d")
        account, to = rng.sample(ACCOUNTS, 2)
        pick = rng.random()
        kind, amount, other = "deposited", f"{rng.randint(1, 9999) / 100:.2f}", None
        if account not in state.open and pick < 0.5:
            kind, amount = "account_opened", None
        elif pick < 0.30:
            kind = "withdrawn"
        elif pick < 0.55:
            kind, other = "transferred", to
        ev = Event(
            type=kind, seq=seq + 1, id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), ts=ts, prev=prev,
            account=account, to=other, amount=amount, date=day,
        )  # fmt: skip
        if check(state, ev) is not None:
            continue
        line = seal(ev)
        evolve(state, ev)
        lines.append(line)
        prev, seq = ev.hash, seq + 1  # type: ignore[assignment]
    path.write_bytes(b"".join(lines))
    return state


def run(log: Path, tz: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER")}
    env["TZ"] = tz
    return subprocess.run([LEDGER, "-f", str(log), *args], capture_output=True, text=True, env=env)


def books(out: str) -> dict[str, object]:
    data = json.loads(out)
    return {"accounts": data["accounts"], "total": data["total"], "seq": data["seq"], "as_of": data["as_of"]}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, State]:
    path = tmp_path_factory.mktemp("dated") / "log.jsonl"
    return path, build(path, 20250301)


@pytest.mark.parametrize("tz", ZONES)
def test_as_of_from_checkpoints_is_the_full_fold(made: tuple[Path, State], tmp_path: Path, tz: str) -> None:
    """With checkpoints built (two snapshots and the head), `balance --as-of D` and
    `accounts --as-of D` give exactly what a full fold gives, for days before, inside and after
    the log, with and without `--known-at` (the reference: every event folded, then filtered
    by date)."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(made[0].read_bytes())
    assert run(log, tz, "balance").returncode == 0  # builds the checkpoints
    cache = Path(f"{log}.cache")
    assert {"head.json", "head.days", "head.offday"} <= {p.name for p in cache.iterdir()}
    assert len([p for p in cache.iterdir() if p.name.startswith("s")]) >= 2
    for day in DAYS:
        for extra in ((), ("--known-at", "1700")):
            cached = run(log, tz, "balance", "--as-of", day, "--json", *extra)
            full = run(log, tz, "balance", "--as-of", day, "--json", "--no-cache", *(extra or EXACT))
            assert cached.returncode == full.returncode == 0, cached.stderr + full.stderr
            assert books(cached.stdout) == books(full.stdout), (day, extra)
        listed = run(log, tz, "accounts", "--as-of", day, "--json")
        assert listed.stdout == run(log, tz, "accounts", "--as-of", day, "--json", "--no-cache", *EXACT).stdout, day


def test_the_books_by_date_from_checkpoints_match_the_domain(made: tuple[Path, State], tmp_path: Path) -> None:
    """The cached answer is the domain's own as-of books (books.as_of of the full state), so
    the comparison above is not of two equal mistakes."""
    from ledger_cli.books import as_of

    log = tmp_path / "log.jsonl"
    log.write_bytes(made[0].read_bytes())
    run(log, "UTC", "balance")
    state = made[1]
    assert state.offday, "the generated log has backdated entries"
    for day in DAYS:
        view = as_of(state, day)
        got = {
            r["account"]: Decimal(r["balance"])
            for r in json.loads(run(log, "UTC", "balance", "--as-of", day, "--json").stdout)["accounts"]
        }
        assert got == view.balances, day


@pytest.mark.parametrize("damage", ["none", "garbled", "removed", "its line changed"])
def test_a_backdated_debit_on_a_checkpointed_log_is_held_to_the_balance_by_date(
    made: tuple[Path, State], tmp_path: Path, damage: str
) -> None:
    """A withdrawal dated D of one cent more than the lowest balance by date from D on is
    refused (exit 1, the log unchanged); of exactly that much it is taken; whether the changes
    per day come from `head.days`, or from the log because that file is damaged or gone, or
    the account's own line in it was changed (each line carries its own check)."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(made[0].read_bytes())
    assert run(log, "UTC", "balance").returncode == 0
    days = Path(f"{log}.cache") / "head.days"
    if damage == "garbled":
        blob = bytearray(days.read_bytes())
        blob[len(blob) // 2] ^= 0x01
        days.write_bytes(bytes(blob))
    elif damage == "removed":
        days.unlink()
    state = made[1]
    day = (START + timedelta(days=3)).strftime("%Y-%m-%d")
    account = max(ACCOUNTS, key=lambda name: low_from(state, name, day)[0] if name in state.balances else -1)
    if damage == "its line changed":  # still valid JSON, a later day's change altered: its own check fails
        blob = days.read_bytes()
        at = blob.index(b'\n"' + account.encode() + b'"\t')
        later = min(d for d in state.days[account] if d > day)
        digit = blob.index(b'"' + later.encode() + b'":"', at) + 14
        digit += blob[digit : digit + 1] == b"-"
        days.write_bytes(blob[:digit] + (b"9" if blob[digit : digit + 1] != b"9" else b"8") + blob[digit + 1 :])
    low, _ = low_from(state, account, day)
    assert low > 0 and low < state.balances[account], "the lowest balance by date is not today's"
    before = log.read_bytes()
    refused = run(log, "UTC", "withdraw", account, str(low + Decimal("0.01")), "--date", day)
    assert refused.returncode == 1 and "insufficient funds" in refused.stderr, refused.stderr
    assert log.read_bytes() == before
    taken = run(log, "UTC", "withdraw", account, str(low), "--date", day)
    assert taken.returncode == 0, taken.stderr
    assert run(log, "UTC", "verify").returncode == 0


@pytest.mark.parametrize("damage", ["garbled", "removed", "old format"])
def test_as_of_with_the_off_day_file_damaged_is_the_full_fold(
    made: tuple[Path, State], tmp_path: Path, damage: str
) -> None:
    """`head.offday` is found by bisection and read undecoded; a damaged, missing or
    earlier-format copy is ignored and the answer is still the full fold's."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(made[0].read_bytes())
    assert run(log, "UTC", "balance").returncode == 0
    offday = Path(f"{log}.cache") / "head.offday"
    header, _, body = offday.read_bytes().partition(b"\n")
    assert body.count(b"\n") == len(made[1].offday), "one line per off-day entry"
    if damage == "garbled":
        blob = bytearray(offday.read_bytes())
        blob[len(blob) // 2] ^= 0x01
        offday.write_bytes(bytes(blob))
    elif damage == "removed":
        offday.unlink()
    else:
        offday.write_bytes(header.replace(b'"format":2', b'"format":1') + b"\n" + body)
    for day in DAYS[::3]:
        cached = run(log, "UTC", "balance", "--as-of", day, "--json")
        full = run(log, "UTC", "balance", "--as-of", day, "--json", "--no-cache", *EXACT)
        assert cached.returncode == full.returncode == 0, cached.stderr + full.stderr
        assert books(cached.stdout) == books(full.stdout), day


def test_a_read_checks_a_backdated_debit_appended_by_another_program(made: tuple[Path, State], tmp_path: Path) -> None:
    """A read takes the backdated debits after the head checkpoint unchecked only while the
    seal says a ledger writer left the file so. A line appended by hand (hash chain intact)
    that makes a balance by date negative is still found by every read: exit 3, its line named."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(made[0].read_bytes())
    assert run(log, "UTC", "balance").returncode == 0  # the checkpoints, and the seal
    state = made[1]
    day = (START + timedelta(days=3)).strftime("%Y-%m-%d")
    account = max(ACCOUNTS, key=lambda name: low_from(state, name, day)[0] if name in state.balances else -1)
    low, _ = low_from(state, account, day)
    assert low + Decimal("0.01") <= state.balances[account], "today's balance would cover it"
    last = json.loads(log.read_bytes().splitlines()[-1])
    ts = (datetime.strptime(last["ts"], "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    ev = Event(
        type="withdrawn", seq=state.seq + 1, id=str(uuid.UUID(int=7, version=4)), ts=ts, prev=state.head,
        account=account, amount=str(low + Decimal("0.01")), date=day,
    )  # fmt: skip
    with open(log, "ab") as out:
        out.write(seal(ev))
    for args in (("balance",), ("balance", "--as-of", day), ("replay",)):
        got = run(log, "UTC", *args)
        assert got.returncode == 3 and f"line {state.seq + 1}: insufficient funds" in got.stderr, (args, got.stderr)


def test_two_names_of_one_zone_share_the_checkpoints(made: tuple[Path, State], tmp_path: Path) -> None:
    """The checkpoints name the zone by its rules, not by TZ's spelling: built under TZ=UTC,
    they serve TZ=Etc/UTC as they are (nothing rewritten, the full fold's answer); under
    another zone they are not used (its v1 dates and off-day entries differ): the head is
    folded again and rewritten."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(made[0].read_bytes())
    assert run(log, "UTC", "balance").returncode == 0
    cache = Path(f"{log}.cache")

    def files() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if p.name != "seal.json"}

    before = files()
    day = DAYS[len(DAYS) // 2]
    for alias in ("Etc/UTC", ":UTC"):
        cached = run(log, alias, "balance", "--as-of", day, "--json")
        full = run(log, "UTC", "balance", "--as-of", day, "--json", "--no-cache", *EXACT)
        assert books(cached.stdout) == books(full.stdout)
        assert files() == before, alias
    assert run(log, "Pacific/Kiritimati", "balance").returncode == 0
    assert files()["head.json"] != before["head.json"]
