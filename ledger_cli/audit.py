"""The auditor's commands on both axes: `restatement` (what entries recorded later changed
about the books of a day) and `verify --against` (a replay statement kept from earlier still
holds: the same head at its seq, the same balances at its bounds)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation

from ledger_cli import render
from ledger_cli.actions import _format, _ledger, _point
from ledger_cli.books import ZERO, as_of
from ledger_cli.dates import day_number, is_day, local_day
from ledger_cli.errors import InvalidValue, RuleViolation
from ledger_cli.events import GENESIS, MOVEMENTS, PERIOD_CLOSED, REVERSED, EventLike, as_event, date_of
from ledger_cli.money import format_amount, money_context
from ledger_cli.reports import balance_report
from ledger_cli.when import Point, parse_day

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ledger_cli.service import Ledger


def restatement(
    file: str | None,
    as_of_day: str,
    since: str | None = None,
    to: str | None = None,
    fmt: str | None = None,
    as_json: bool = False,
    no_cache: bool = False,
    check: bool = False,
) -> int:
    chosen = _format(fmt, as_json)
    day = parse_day(as_of_day, "--as-of")
    ledger = _ledger(file, no_cache)
    end = ledger.state(_point(to, "--to"), keys=False, dated=True)
    start_point = _point(since, "--from")
    if start_point is None:
        closing = next((seq for seq, kind, date in end.periods if kind == PERIOD_CLOSED and date >= day), None)
        if closing is None:
            raise InvalidValue(f"no close-period covers {day} (known at seq {end.seq}): say from when with --from")
        start_point = Point(str(closing), seq=closing)
    start = ledger.state(start_point, keys=False, dated=True)
    if start.seq > end.seq:
        raise InvalidValue(f"--from (seq {start.seq}) is after --to (seq {end.seq})")
    before, after = as_of(start, day), as_of(end, day)
    events: list[dict[str, Any]] = []

    def visit(ev: EventLike) -> None:
        if start.seq < ev.seq <= end.seq and (ev.type in MOVEMENTS or ev.type == REVERSED) and date_of(ev) <= day:
            record = render.history_record(as_event(ev, ev.hash or ""), None)
            record["days_late"] = day_number(local_day(ev.ts)) - day_number(date_of(ev))
            events.append(record)

    ledger.walk(visit, Point(str(end.seq), seq=end.seq))
    rows = []
    with money_context():
        for account in sorted(set(before.balances) | set(after.balances)):
            old, new = before.balances.get(account, ZERO), after.balances.get(account, ZERO)
            rows.append((account, old, new, new - old))
        total = sum((row[3] for row in rows), ZERO)
    report = {
        "as_of": day,
        "from": {"seq": start.seq, "ts": start.ts},
        "to": {"seq": end.seq, "ts": end.ts},
        "accounts": [
            {"account": a, "before": format_amount(b), "after": format_amount(n), "change": format_amount(c)}
            for a, b, n, c in rows
        ],
        "total_change": format_amount(total),
        "events": events,
    }
    from ledger_cli.restated import restatement

    restatement(report, chosen)
    changed = bool(events) or any(row[3] != 0 for row in rows)
    if check and changed:
        raise RuleViolation(
            f"the books as of {day} were restated: {len(events)} {'entry' if len(events) == 1 else 'entries'} "
            f"recorded after seq {start.seq}; the total changed by {format_amount(total)}"
        )
    return 0


def attestation_problem(ledger: Ledger, path: str, statement: dict[str, Any]) -> str | None:
    """Why the replay statement read from `path` (statement()) no longer holds, or None."""
    seq, head, day = statement["seq"], statement["head"], statement["as_of"]
    state = ledger.state(Point(str(seq), seq=seq), keys=False, dated=day is not None)
    if state.seq != seq:
        return f"{path}: the statement names seq {seq}, but the log holds {state.seq} events"
    if state.head != head:
        return f"{path}: the history up to seq {seq} has changed: head was {head[:4]}…, is now {state.head[:4]}…"
    report = balance_report(state if day is None else as_of(state, day), [], day)
    now = {row.account: (row.balance, row.open) for row in report.rows}
    then = {row["account"]: (Decimal(row["balance"]), row["open"]) for row in statement["accounts"]}
    where = f"as of {day}, known at seq {seq}" if day else f"at seq {seq}"
    for account in sorted(set(now) | set(then)):
        if now.get(account) != then.get(account):
            was, is_ = _shown(then.get(account)), _shown(now.get(account))
            return f"{path}: the books {where} differ from the statement: {account} was {was}, is {is_}"
    if Decimal(statement["total"]) != report.total:
        return f"{path}: the total {where} was {statement['total']}, is {format_amount(report.total)}"
    return None


def _shown(entry: tuple[Decimal, bool] | None) -> str:
    if entry is None:
        return "absent"
    return format_amount(entry[0]) + ("" if entry[1] else " (closed)")


def statement(path: str) -> dict[str, Any]:
    """The fields of a replay statement (`replay --json` output), checked; InvalidValue if not."""
    try:
        source = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
        with source:
            data = json.load(source)
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidValue(f"{path} is not a replay statement (not JSON: {exc})") from None
    try:
        ok = (
            isinstance(data, dict)
            and type(data["seq"]) is int
            and data["seq"] >= 0
            and isinstance(data["head"], str)
            and (len(data["head"]) == 64 or data["head"] == GENESIS)
            and isinstance(data["accounts"], list)
            and all(
                isinstance(row, dict)
                and isinstance(row["account"], str)
                and isinstance(row["balance"], str)
                and Decimal(row["balance"]).is_finite()
                and type(row["open"]) is bool
                for row in data["accounts"]
            )
            and isinstance(data["total"], str)
            and Decimal(data["total"]).is_finite()
            and (data.get("as_of") is None or (isinstance(data["as_of"], str) and is_day(data["as_of"])))
        )
    except (KeyError, TypeError, InvalidOperation):
        ok = False
    if not ok:
        raise InvalidValue(f"{path} is not a replay statement (the JSON that `ledger replay --json` prints)")
    data.setdefault("as_of", None)
    return data  # type: ignore[no-any-return]
