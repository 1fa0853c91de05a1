"""`ledger history`: the events in log order (streamed) or by date (`--by-date`: in (date,
seq) order, the running balance in that order), known up to a bound (--known-at / --until)
and dated up to a day (--as-of)."""

from __future__ import annotations

import sys

from ledger_cli import render
from ledger_cli.actions import _day, _format, _ledger, _point, known_bound
from ledger_cli.books import ZERO
from ledger_cli.codec import dated_lines
from ledger_cli.errors import InvalidValue, RuleViolation
from ledger_cli.events import EventLike, as_event, date_of
from ledger_cli.reports import HistoryRows, delta, touches
from ledger_cli.values import covers, parse_account

TYPE_CHECKING = False
if TYPE_CHECKING:
    from decimal import Decimal

    from ledger_cli.books import State
    from ledger_cli.events import Event
    from ledger_cli.service import Ledger
    from ledger_cli.when import Point


def history(
    file: str | None,
    account: str | None = None,
    since: str | None = None,
    until: str | None = None,
    last: int | None = None,
    fmt: str | None = None,
    as_json: bool = False,
    no_cache: bool = False,
    as_of: str | None = None,
    known_at: str | None = None,
    by_date: bool = False,
    follow: bool = False,
) -> int:
    if follow:
        _followable(fmt, as_json, until, known_at, as_of, by_date)
    chosen = _format(fmt, as_json) if fmt is not None or as_json or not follow else "tsv"
    name = parse_account(account) if account is not None else None
    since_point = _point(since, "--since")
    until_point = known_bound(until, known_at)
    day = _day(as_of, "--as-of")
    if last is not None and last < 0:
        raise InvalidValue(f"invalid --last {last}: give a number from 0")
    if last is not None:
        last = min(last, sys.maxsize)  # more than any log holds: all of them
    ledger = _ledger(file, no_cache)
    # A log known to be good streams; any other is vouched for first (verified to its end and
    # sealed), except for jsonl, whose rows (the log's bytes) are cheaper held back for one
    # pass. Rows not streamed are held back until the walk has verified the whole log.
    stream = ledger.known_good() or (not no_cache and chosen != "jsonl" and ledger.vouch())
    writer = render.HistoryWriter(chosen, with_balance=name is not None, stream=stream)
    if by_date:
        state = _by_date(ledger, writer, name, since_point, until_point, last, day)
    elif chosen == "jsonl" and name is None and day is None:
        rows = HistoryRows(name, since_point, last)

        def visit_lines(lines: bytes) -> None:
            for shown in rows.take_lines(lines):
                writer.add_lines(dated_lines(shown))

        # Without an account only the last `last` events can be shown: the walk need not
        # decode the others; nor any, for jsonl: its rows are the log's lines.
        state = ledger.walk(visit_lines, until_point, tail=last, lines=True)  # type: ignore[arg-type]
        for line in rows.held():
            writer.add_lines(dated_lines(line))
    else:
        rows = HistoryRows(name, since_point, last, day)

        def visit(ev: EventLike) -> None:
            row = rows.take(ev)
            if row is not None:
                writer.add(*row)  # streamed: no list of a million events in memory

        tail = last if name is None and day is None else None
        state = ledger.walk(visit, until_point, only=name, tail=tail)
        for row in rows.held():
            writer.add(*row)
    if name is not None and not any(covers(name, known) for known in state.open) and not follow:
        raise RuleViolation(f"no account matches {name}")
    writer.finish()
    if follow:
        _follow(ledger, chosen, rows, state.seq)
    return 0


def _followable(
    fmt: str | None, as_json: bool, until: str | None, known_at: str | None, as_of: str | None, by_date: bool
) -> None:
    """--follow prints one flushed line per event: tsv or jsonl, in log order, with no end."""
    if as_json or fmt not in (None, "tsv", "jsonl"):
        raise InvalidValue("--follow prints one line per event: use --format tsv (the default) or jsonl")
    for given, flag in ((until, "--until"), (known_at, "--known-at"), (as_of, "--as-of"), (by_date, "--by-date")):
        if given:
            raise InvalidValue(f"--follow shows each event as it is recorded: it takes no {flag}")


def _follow(ledger: Ledger, fmt: str, rows: HistoryRows, after: int) -> None:
    """After the events there are: each new one, a whole line flushed at a time, until Ctrl-C
    (exit 130) or the reader goes away."""
    from ledger_cli.streams import reader_gone

    rows.stop_holding()
    writer = render.HistoryWriter(fmt, with_balance=rows.account is not None, stream=True)
    while not reader_gone():  # like tail -f: stop when the reader of a pipe has gone
        for ev in ledger.follow(after, stop=FOLLOW_CHECK):
            after = ev.seq
            row = rows.take(ev)
            if row is not None:
                writer.add(*row)
                writer.flush()


FOLLOW_CHECK = 1.0  # seconds without a new event between looks at whether stdout's reader is gone


def _by_date(
    ledger: Ledger,
    writer: render.HistoryWriter,
    name: str | None,
    since: Point | None,
    until: Point | None,
    last: int | None,
    day: str | None,
) -> State:
    """The rows in (date, seq) order: every event (of the account) is held, then sorted."""
    held: list[tuple[str, int, Event]] = []

    def visit(ev: EventLike) -> None:
        if (name is None or touches(ev, name)) and (day is None or date_of(ev) <= day):
            event = ev if hasattr(ev, "body") else as_event(ev, ev.hash or "")
            held.append((date_of(ev), ev.seq, event))  # type: ignore[arg-type]

    state = ledger.walk(visit, until, only=name)
    held.sort(key=lambda item: (item[0], item[1]))
    running = None if name is None else ZERO
    shown: list[tuple[Event, Decimal | None]] = []
    for _, _, event in held:
        if running is not None:
            running += delta(event, name)  # type: ignore[arg-type]
        if since is None or not since.before(event.seq, event.ts):
            shown.append((event, running))
    for event, balance in shown if last is None else shown[len(shown) - last :] if last else []:
        writer.add(event, balance)
    return state
