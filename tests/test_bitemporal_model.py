"""Both time axes of contract section 7 against a reference model that has no rules.

Random command sequences (random dates in a 20-day window ending at a pinned today, closes and
reopenings of the books, deposits, withdrawals, transfers, opens, closes and reversals on 2-3
accounts) are run through the service layer (ledger_cli.service.Ledger with a pinned clock).
The model then takes the events as recorded in the log, as plain dicts, and only filters and
sums them:

  (a) the books as of day D known at seq N (books.as_of over the state at N) are the model's
      sums over the events with seq <= N and date <= D, for the accounts that exist by then;
      also through the CLI (`balance --as-of D --known-at N --json`);
  (b) no balance by date is negative on any day, at any known-at prefix;
  (c) no event recorded after a period_closed is dated inside the closed range (reopen D:
      closed through D-1);
  (d) `restatement --as-of D --from T1 --to T2`: each change is after - before, and is the sum of
      the listed events' effects.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_cli import dates
from ledger_cli.books import as_of
from ledger_cli.config import ledger_at
from ledger_cli.dates import day_number, shift
from ledger_cli.domain import Close, ClosePeriod, Command, Deposit, Open, ReopenPeriod, Reverse, Transfer, Withdraw
from ledger_cli.errors import InvalidValue, RuleViolation
from ledger_cli.service import Ledger
from ledger_cli.when import Point
from tests.conftest import Runner, run_installed

TODAY = "2026-01-20"
TOMORROW = shift(TODAY, 1)
WINDOW = [shift(TODAY, -k) for k in range(19, -1, -1)]  # 20 days ending today
DAYS = [shift(WINDOW[0], -1), *WINDOW, TOMORROW]  # every day a report may be asked about
ACCOUNTS = ("a", "b", "c")
MONEY = ("deposited", "withdrawn", "transferred", "reversed")
ZERO = Decimal(0)

EXAMPLES = settings(max_examples=40, deadline=None)


@pytest.fixture(scope="module", autouse=True)
def utc() -> Iterator[None]:
    """TZ=UTC for the whole module: the Stamp's today is the UTC date of the pinned clock."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC")
        time.tzset()
        dates.forget_zone()
        yield
    time.tzset()
    dates.forget_zone()


# ---- the scenario ------------------------------------------------------------------------------

date_or_default = st.sampled_from([*WINDOW, *WINDOW[-5:], None, None, TOMORROW])
credit = st.sampled_from(("5", "10", "25", "40", "100"))
debit = st.sampled_from(("0.01", "1", "2.50", "5", "10", "20", "35"))


def step(names: tuple[str, ...]) -> st.SearchStrategy[tuple[Any, ...]]:
    """One step on the accounts `names`. Branches are drawn about evenly: a repeated one is commoner."""
    account = st.sampled_from(names)
    pair = st.sampled_from([(x, y) for x in names for y in names if x != y])
    return st.one_of(
        *[st.tuples(st.just("open"), account, date_or_default)] * 2,
        *[st.tuples(st.just("deposit"), account, credit, date_or_default)] * 3,
        *[st.tuples(st.just("withdraw"), account, debit, date_or_default)] * 2,
        st.tuples(st.just("drain"), account, date_or_default),
        *[pair.flatmap(lambda p: st.tuples(st.just("transfer"), st.just(p[0]), st.just(p[1]), debit, date_or_default))]
        * 3,
        st.tuples(st.just("transfer"), account, account, debit, date_or_default),  # to itself: refused
        st.tuples(st.just("close"), account, date_or_default),
        *[st.tuples(st.just("drain_close"), account, date_or_default, date_or_default)] * 2,
        st.tuples(st.just("cycle"), account, date_or_default, date_or_default, date_or_default),
        *[st.tuples(st.just("reverse"), st.integers(0, 40), st.sampled_from([*WINDOW, None, None, None]))] * 2,
        st.tuples(st.just("close_period"), st.sampled_from([*WINDOW[:14], *WINDOW[:8], TOMORROW])),
        st.tuples(st.just("reopen_period"), st.sampled_from(WINDOW[:14])),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[tuple[Any, ...]], bool]:
    """(how many accounts, the steps, whether the books use checkpoints)."""
    names = ACCOUNTS[: draw(st.integers(2, 3))]
    # Money first (early in the window), so that debits, closes and reversals have something to act on.
    start = [("deposit", name, draw(credit), draw(st.sampled_from(WINDOW[:6]))) for name in names]
    steps = draw(st.lists(step(names), min_size=10, max_size=36))
    # drain_close: withdraw all it has, then close it (another day, or the same); cycle: then reopen it
    expanded = {
        "drain_close": lambda s: [("drain", s[1], s[2]), ("close", s[1], s[3])],
        "cycle": lambda s: [("drain", s[1], s[2]), ("close", s[1], s[3]), ("open", s[1], s[4])],
    }
    steps = [part for s in steps for part in (expanded[s[0]](s) if s[0] in expanded else [s])]
    return len(names), start + steps, draw(st.booleans())


class Clock:
    """Increasing readings on the pinned day (UTC): the Stamp's today is TODAY."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{TODAY}T12:{self.n // 60 % 60:02d}:{self.n % 60:02d}.{self.n:06d}Z"


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"00000000-0000-7000-8000-{self.n:012x}"


# ---- the reference model: recorded events, filtered and summed ---------------------------------


def model_events(log: Path) -> list[dict[str, Any]]:
    """The log's events as plain dicts: seq, date, type, account, to, amount (Decimal), target."""
    rows = []
    for line in log.read_bytes().splitlines() if log.exists() else []:
        raw = json.loads(line)
        rows.append(
            {
                "seq": raw["seq"],
                "date": raw["date"],
                "type": raw["type"],
                "account": raw.get("account"),
                "to": raw.get("to"),
                "amount": Decimal(raw["amount"]) if "amount" in raw else None,
                "target": raw.get("target"),
                "ts": raw["ts"],
            }
        )
    return rows


def effects(ev: dict[str, Any]) -> dict[str, Decimal]:
    """How an event changes each account's balance."""
    kind, amount = ev["type"], ev["amount"]
    out: dict[str, Decimal] = {}
    if kind == "deposited":
        out[ev["account"]] = amount
    elif kind == "withdrawn":
        out[ev["account"]] = -amount
    elif kind in ("transferred", "reversed"):
        if ev["account"] is not None:
            out[ev["account"]] = out.get(ev["account"], ZERO) - amount
        if ev["to"] is not None:
            out[ev["to"]] = out.get(ev["to"], ZERO) + amount
    return out


def known(events: list[dict[str, Any]], n: int, day: str | None = None) -> list[dict[str, Any]]:
    return [ev for ev in events if ev["seq"] <= n and (day is None or ev["date"] <= day)]


def model_books(events: list[dict[str, Any]], n: int, day: str | None) -> dict[str, tuple[Decimal, bool]]:
    """account -> (balance, open) of the accounts that exist by `day` (an event of theirs dated
    on or before it), known at seq n; open: their last open/close by (date, seq), else open."""
    books: dict[str, Decimal] = {}
    status: dict[str, tuple[str, int, bool]] = {}
    for ev in known(events, n, day):
        for name in (ev["account"], ev["to"]):
            if name is not None:
                books.setdefault(name, ZERO)
        for name, change in effects(ev).items():
            books[name] += change
        if ev["type"] in ("account_opened", "account_closed"):
            entry = (ev["date"], ev["seq"], ev["type"] == "account_opened")
            if ev["account"] not in status or entry > status[ev["account"]]:
                status[ev["account"]] = entry
    return {name: (balance, status[name][2] if name in status else True) for name, balance in books.items()}


def closed_through(events: list[dict[str, Any]], n: int) -> str | None:
    """The last closed day after the first n events (reopen D: closed through D-1)."""
    through = None
    for ev in events[:n]:
        if ev["type"] == "period_closed":
            through = ev["date"]
        elif ev["type"] == "period_reopened":
            through = shift(ev["date"], -1)
    return through


# ---- running the scenario ----------------------------------------------------------------------


def command_for(step: tuple[Any, ...], events: list[dict[str, Any]]) -> Command:
    kind = step[0]
    if kind == "open":
        return Open(step[1], date=step[2])
    if kind == "deposit":
        return Deposit(step[1], Decimal(step[2]), date=step[3])
    if kind == "withdraw":
        return Withdraw(step[1], Decimal(step[2]), date=step[3])
    if kind == "drain":  # withdraw all it has (as recorded), so that closes can happen
        books = model_books(events, len(events), None)
        has = books.get(step[1], (ZERO, True))[0]
        return Withdraw(step[1], has if has > 0 else Decimal(1), date=step[2])
    if kind == "transfer":
        return Transfer(step[1], step[2], Decimal(step[3]), date=step[4])
    if kind == "close":
        return Close(step[1], date=step[2])
    if kind == "reverse":
        target = step[1] % len(events) + 1 if events else 1
        return Reverse(target, date=step[2])
    if kind == "close_period":
        return ClosePeriod(step[1])
    assert kind == "reopen_period"
    return ReopenPeriod(step[1], memo="correction")


def run(folder: str, steps: list[tuple[Any, ...]], use_cache: bool) -> tuple[Ledger, Path, list[dict[str, Any]]]:
    """Run the steps; refused ones must leave the log unchanged. Returns the recorded events."""
    log = Path(folder) / "ledger.jsonl"
    ledger = ledger_at(log, use_cache=use_cache, clock=Clock(), new_id=Ids())
    events: list[dict[str, Any]] = []
    for s in steps:
        command = command_for(s, events)
        before = log.read_bytes() if log.exists() else b""
        wanted = getattr(command, "date", None)
        try:
            event, new = ledger.execute(command)
        except (RuleViolation, InvalidValue) as exc:
            assert (log.read_bytes() if log.exists() else b"") == before, (command, exc)
            if wanted == TOMORROW:
                assert isinstance(exc, InvalidValue), (command, exc)
            through = closed_through(events, len(events))
            day = wanted or TODAY
            never_closed = not any(
                e["type"] == "account_closed" and e["account"] == command_account(command) for e in events
            )
            # Liveness: a deposit into an account never closed, dated in the open period, is taken.
            assert not (
                isinstance(command, Deposit) and never_closed and day <= TODAY and (through is None or day > through)
            ), (command, exc, events)
            continue
        assert new and wanted != TOMORROW, command
        events = model_events(log)
        assert event.seq == len(events) == events[-1]["seq"]
        assert event.v == 2 and event.date == events[-1]["date"]
        if wanted is not None:
            assert event.date == wanted, command
        elif not isinstance(command, Reverse):
            assert event.date == TODAY, command
    return ledger, log, events


def command_account(command: Command) -> str | None:
    return getattr(command, "account", None)


def product_books(ledger: Ledger, n: int, day: str | None) -> dict[str, tuple[Decimal, bool]]:
    state = ledger.state(Point(str(n), seq=n))
    assert state.seq == n
    view = state if day is None else as_of(state, day)
    return {name: (view.balances[name], view.open[name]) for name in view.balances}


def cli(log: Path, via: str, *args: str) -> tuple[int, str, str]:
    outcome = Runner(via, log)(*args, env={"LEDGER_CLI_FILE": str(log), "TZ": "UTC"})
    return outcome.code, outcome.stdout, outcome.stderr


def parsed_books(report: dict[str, Any]) -> dict[str, tuple[Decimal, bool]]:
    return {row["account"]: (Decimal(row["balance"]), row["open"]) for row in report["accounts"]}


# ---- (a) as-of books known at N = the model's filtered sums --------------------------------------


@EXAMPLES
@given(scenarios(), st.data())
def test_books_as_of_a_day_known_at_a_seq_are_the_filtered_sums(
    scenario: tuple[int, list[tuple[Any, ...]], bool], data: st.DataObject
) -> None:
    _, steps, use_cache = scenario
    with tempfile.TemporaryDirectory() as folder:
        ledger, log, events = run(folder, steps, use_cache)
        for n in range(len(events) + 1):
            assert product_books(ledger, n, None) == model_books(events, n, None), n
            for day in DAYS:
                assert product_books(ledger, n, day) == model_books(events, n, day), (n, day, events)
        # A few of the same through the command line.
        for via in ("fast", "typer"):
            n = data.draw(st.integers(0, len(events)), label="known at")
            day = data.draw(st.sampled_from(DAYS), label="as of")
            code, out, err = cli(log, via, "balance", "--as-of", day, "--known-at", str(n), "--json")
            assert code == 0, err
            report = json.loads(out)
            expected = model_books(events, n, day)
            assert parsed_books(report) == expected, (n, day)
            assert Decimal(report["total"]) == sum((b for b, _ in expected.values()), ZERO)
            assert report["as_of"] == day
            assert report["seq"] == n
            assert report["ts"] == (events[n - 1]["ts"] if n else None)


# ---- (b) no balance by date is ever negative ---------------------------------------------------------


@EXAMPLES
@given(scenarios())
def test_no_balance_by_date_is_ever_negative(scenario: tuple[int, list[tuple[Any, ...]], bool]) -> None:
    _, steps, use_cache = scenario
    with tempfile.TemporaryDirectory() as folder:
        ledger, _, events = run(folder, steps, use_cache)
        for n in range(len(events) + 1):
            for day in [*DAYS, None]:
                negative = {k: v for k, (v, _) in model_books(events, n, day).items() if v < 0}
                assert not negative, (n, day, negative, events)
                shown = {k: v for k, (v, _) in product_books(ledger, n, day).items() if v < 0}
                assert not shown, (n, day, shown)


# ---- (c) nothing recorded into a closed period -----------------------------------------------------


@EXAMPLES
@given(scenarios())
def test_nothing_is_recorded_into_a_closed_period(scenario: tuple[int, list[tuple[Any, ...]], bool]) -> None:
    _, steps, use_cache = scenario
    with tempfile.TemporaryDirectory() as folder:
        ledger, _, events = run(folder, steps, use_cache)
        through = None
        for ev in events:
            if ev["type"] == "period_closed":
                assert through is None or ev["date"] > through, (ev, through)  # a later day than the close
                assert ev["date"] <= TODAY
                through = ev["date"]
            elif ev["type"] == "period_reopened":
                assert through is not None and ev["date"] <= through, (ev, through)  # inside the closed range
                through = shift(ev["date"], -1)
            else:
                assert through is None or ev["date"] > through, (ev, through, events)
        state = ledger.state()
        assert state.closed_through == through


# ---- (d) restatements ------------------------------------------------------------------------------


@EXAMPLES
@given(scenarios(), st.data())
def test_a_restatement_is_the_difference_of_two_as_of_books(
    scenario: tuple[int, list[tuple[Any, ...]], bool], data: st.DataObject
) -> None:
    _, steps, use_cache = scenario
    with tempfile.TemporaryDirectory() as folder:
        _, log, events = run(folder, steps, use_cache)
        day = data.draw(st.sampled_from(DAYS), label="as of")
        last = len(events)
        default_from = data.draw(st.booleans(), label="default --from")
        if default_from:
            t2 = last
            closing = [ev["seq"] for ev in events if ev["type"] == "period_closed" and ev["date"] >= day]
            args = ["restatement", "--as-of", day, "--json"]
            code, out, err = cli(log, "typer", *args)
            if not closing:
                assert code == 2, (code, out, err)
                assert out == ""
                return
            t1 = closing[0]
        else:
            if last == 0:
                return
            t1 = data.draw(st.integers(0, last - 1), label="from")
            t2 = data.draw(st.integers(t1 + 1, last), label="to")
            args = ["restatement", "--as-of", day, "--from", str(t1), "--to", str(t2), "--json"]
            code, out, err = cli(log, "typer", *args)
        assert code == 0, err
        report = json.loads(out)
        assert report["as_of"] == day
        assert report["from"]["seq"] == t1 and report["to"]["seq"] == t2
        assert report["from"]["ts"] == (events[t1 - 1]["ts"] if t1 else None)
        assert report["to"]["ts"] == events[t2 - 1]["ts"]

        before, after = model_books(events, t1, day), model_books(events, t2, day)
        late = [ev for ev in events if t1 < ev["seq"] <= t2 and ev["date"] <= day and ev["type"] in MONEY]
        assert [row["seq"] for row in report["events"]] == [ev["seq"] for ev in late]
        for row, ev in zip(report["events"], late):
            assert row["date"] == ev["date"] and row["type"] == ev["type"]
            assert row["days_late"] == day_number(TODAY) - day_number(ev["date"])
        explained: dict[str, Decimal] = {}
        for ev in late:
            for name, change in effects(ev).items():
                explained[name] = explained.get(name, ZERO) + change

        rows = {row["account"]: row for row in report["accounts"]}
        assert set(rows) == set(before) | set(after)
        assert [row["account"] for row in report["accounts"]] == sorted(rows)
        total = ZERO
        for name, row in rows.items():
            old = before.get(name, (ZERO, True))[0]
            new = after.get(name, (ZERO, True))[0]
            assert Decimal(row["before"]) == old, (name, row)
            assert Decimal(row["after"]) == new, (name, row)
            assert Decimal(row["change"]) == new - old == explained.get(name, ZERO), (name, row, late)
            total += new - old
        assert Decimal(report["total_change"]) == total
        assert set(explained) <= set(rows)

        changed = bool(late) or any(Decimal(row["change"]) != 0 for row in rows.values())
        code, out, err = cli(log, "typer", *args[:-1], "--check")
        assert code == (1 if changed else 0), (code, err)


# ---- the same, once through the installed command --------------------------------------------------


def test_balance_as_of_known_at_through_the_installed_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = [
        ("deposit", "a", "100", WINDOW[2]),
        ("transfer", "a", "b", "30", WINDOW[5]),
        ("close_period", WINDOW[8]),
        ("deposit", "b", "5", WINDOW[3]),  # refused: closed
        ("reopen_period", WINDOW[4]),
        ("deposit", "b", "5", WINDOW[4]),
        ("withdraw", "a", "20", WINDOW[6]),
        ("reverse", 1, None),  # the transfer (seq 2): its day is open again, so it keeps its date
        ("deposit", "a", "50", WINDOW[1]),  # refused: closed through WINDOW[3]
        ("deposit", "c", "7", None),
    ]
    ledger, log, events = run(str(tmp_path), steps, use_cache=False)
    assert [ev["type"] for ev in events] == [
        "deposited", "transferred", "period_closed", "period_reopened",
        "deposited", "withdrawn", "reversed", "deposited",
    ]  # fmt: skip
    assert events[6]["date"] == WINDOW[5] and events[6]["target"] == 2
    for n in (0, 2, 5, len(events)):
        for day in (WINDOW[1], WINDOW[4], WINDOW[5], TODAY):
            result = run_installed(["balance", "--as-of", day, "--known-at", str(n), "--json"], log, env={"TZ": "UTC"})
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            assert parsed_books(report) == model_books(events, n, day) == product_books(ledger, n, day), (n, day)
            assert report["seq"] == n and report["as_of"] == day
