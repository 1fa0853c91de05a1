"""What each command does, free of any CLI framework.

The Typer app (cli.py) and the hand-made fast path (fastpath.py) both parse arguments
and then call exactly these functions, so both give the same output and exit codes.
`guarded` is the one place that turns expected failures into stderr lines and exit codes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ledger_cli import interrupts, render
from ledger_cli.config import forget_early, open_ledger
from ledger_cli.domain import Close, ClosePeriod, Command, Deposit, Open, ReopenPeriod, Reverse, Transfer, Withdraw
from ledger_cli.errors import ExitCode, InvalidValue, LedgerError
from ledger_cli.money import parse_amount
from ledger_cli.reports import accounts_report, balance_report
from ledger_cli.streams import OutputError, discard_stdout, say, stdin_closed, warn
from ledger_cli.values import parse_account, parse_key, parse_memo
from ledger_cli.when import Point, parse_day, parse_point

TYPE_CHECKING = False  # typing itself costs start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

    from ledger_cli.service import Ledger


def guarded(action: Callable[..., int | None], *args: Any, **kwargs: Any) -> int:
    """The one error boundary: run an action; every failure a user (or a dropped pipe, a full
    disk, Ctrl-C) can cause becomes one stderr line and its exit code (errors.ExitCode).

    Once a write is durable (interrupts), SIGINT and SIGTERM are held until the action has
    reported it; one that came meanwhile is dropped here, with a note, and the exit is 0.
    """
    interrupts.begin()
    try:
        try:
            code = action(*args, **kwargs) or 0
        finally:
            dropped = interrupts.end()  # a signal held before the durable point arrives here
            _say_notes()
        if dropped:
            say("ledger: note: interrupted after the write was durable: what was reported is recorded")
        return code
    except LedgerError as exc:
        _error(str(exc))
        return int(exc.exit_code)
    except BrokenPipeError:
        discard_stdout()  # the reader went away (`ledger history | head`): stop quietly
        return int(ExitCode.OK)
    except KeyboardInterrupt:
        _error("interrupted; nothing was recorded" if interrupts.was_writing() else "interrupted")
        return int(ExitCode.INTERRUPTED)
    except OSError as exc:
        _error(f"{exc.filename or 'I/O'}: {exc.strerror or exc}")
        return int(ExitCode.UNTRUSTED)


def _error(message: str) -> None:
    say(f"ledger: error: {message}")


def _confirm(show: Callable[[], object], what: str) -> None:
    """Print a write's confirmation. The events are durable by now: a failure to print is a
    warning, never a failed command (a retry would record them twice)."""
    try:
        show()
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
    except OutputError as exc:
        warn(f"{what} is recorded, but its confirmation could not be printed: {exc}")


def _format(fmt: str | None, as_json: bool) -> str:
    chosen = render.choose_format(fmt, as_json)
    if chosen not in render.FORMATS:
        raise InvalidValue(f"invalid --format {fmt!r}: choose one of {', '.join(render.FORMATS)}")
    return chosen


def choose_file(before: str | None, after: str | None) -> str | None:
    """The -f given before the command (`ledger -f X balance`) or after it (`ledger balance -f X`)."""
    if before is not None and after is not None and before != after:
        raise InvalidValue(f"--file is given twice ({before!r} before the command, {after!r} after it)")
    return after if after is not None else before


_OPENED: list[Ledger] = []  # the books this command opened, whose notes guarded() says


def _ledger(file: str | None, no_cache: bool = False) -> Ledger:
    ledger = open_ledger(file, use_cache=not no_cache)
    _OPENED.append(ledger)
    return ledger


def _say_notes() -> None:
    """The warnings the store and the application gathered (they never print themselves)."""
    said: set[str] = set()
    for ledger in _OPENED:
        for note in ledger.notes:
            if note not in said:  # two reads of one torn tail warn once
                said.add(note)
                warn(note)
        ledger.notes.clear()
        ledger.close()
    _OPENED.clear()
    forget_early()


def _point(text: str | None, option: str) -> Point | None:
    return None if text is None else parse_point(text, option)


def _day(text: str | None, option: str = "--date") -> str | None:
    return None if text is None else parse_day(text, option)


def known_bound(until: str | None, known_at: str | None) -> Point | None:
    """--known-at, or --until (its alias); both only if they say the same."""
    if until is not None and known_at is not None and until != known_at:
        raise InvalidValue(f"--until ({until!r}) and --known-at ({known_at!r}) are one bound: give one of them")
    return _point(known_at if known_at is not None else until, "--known-at" if known_at is not None else "--until")


# ---- writes ---------------------------------------------------------------------------------


def record(file: str | None, command: Command, *, quiet: bool = False, as_json: bool = False) -> int:
    event, new = _ledger(file).execute(command)
    _confirm(lambda: render.recorded(event, "json" if as_json else None, new=new, quiet=quiet), f"seq {event.seq}")
    return 0


def open_account(
    file: str | None,
    account: str,
    memo: str | None = None,
    key: str | None = None,
    date: str | None = None,
    **out: bool,
) -> int:
    return record(file, Open(parse_account(account), parse_memo(memo), parse_key(key), _day(date)), **out)


def close_account(
    file: str | None,
    account: str,
    memo: str | None = None,
    key: str | None = None,
    date: str | None = None,
    **out: bool,
) -> int:
    return record(file, Close(parse_account(account), parse_memo(memo), parse_key(key), _day(date)), **out)


def deposit(
    file: str | None,
    account: str,
    amount: str,
    memo: str | None = None,
    key: str | None = None,
    date: str | None = None,
    **out: bool,
) -> int:
    command = Deposit(parse_account(account), parse_amount(amount), parse_memo(memo), parse_key(key), _day(date))
    return record(file, command, **out)


def withdraw(
    file: str | None,
    account: str,
    amount: str,
    memo: str | None = None,
    key: str | None = None,
    date: str | None = None,
    **out: bool,
) -> int:
    command = Withdraw(parse_account(account), parse_amount(amount), parse_memo(memo), parse_key(key), _day(date))
    return record(file, command, **out)


def transfer(
    file: str | None,
    source: str,
    to: str,
    amount: str,
    memo: str | None = None,
    key: str | None = None,
    date: str | None = None,
    **out: bool,
) -> int:
    names = parse_account(source), parse_account(to)
    command = Transfer(*names, parse_amount(amount), parse_memo(memo), parse_key(key), _day(date))
    return record(file, command, **out)


def close_period(file: str | None, date: str, memo: str | None = None, key: str | None = None, **out: bool) -> int:
    return record(file, ClosePeriod(parse_day(date, "DATE"), parse_memo(memo), parse_key(key)), **out)


def reopen_period(file: str | None, date: str, memo: str | None = None, key: str | None = None, **out: bool) -> int:
    if not memo:
        raise InvalidValue("reopen-period needs a reason: -m REASON (it is recorded with the reopening)")
    return record(file, ReopenPeriod(parse_day(date, "DATE"), parse_memo(memo), parse_key(key)), **out)


def parse_seq(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise InvalidValue(f"invalid event seq {text!r}: give a whole number from 1")
    return int(text)


def reverse(
    file: str | None, seq: str, memo: str | None = None, key: str | None = None, date: str | None = None, **out: bool
) -> int:
    return record(file, Reverse(parse_seq(seq), parse_memo(memo), parse_key(key), _day(date)), **out)


# ---- reads ----------------------------------------------------------------------------------


def balance(
    file: str | None,
    accounts: list[str],
    until: str | None = None,
    fmt: str | None = None,
    as_json: bool = False,
    no_cache: bool = False,
    *,
    replay: bool = False,
    as_of: str | None = None,
    known_at: str | None = None,
    by: str | None = None,
    begin: str | None = None,
    end: str | None = None,
    change: bool = False,
) -> int:
    chosen = _format(fmt, as_json)
    names = [parse_account(name) for name in accounts]
    bound = known_bound(until, known_at)
    day = _day(as_of, "--as-of")
    if by is not None or begin is not None or end is not None or change:
        return _by_period(file, names, bound, chosen, no_cache, day, by, begin, end, change)
    ledger = _ledger(file, no_cache)
    state = ledger.state(bound, keys=False, dated=False) if day is None else ledger.as_of(day, bound)
    report = balance_report(state, names, day)
    render.balance(report, chosen, replay=replay, bound_given=bound is not None or day is not None)
    return 0


def _by_period(
    file: str | None, names: list[str], bound: Point | None, fmt: str, no_cache: bool, day: str | None,
    by: str | None, begin: str | None, end: str | None, change: bool,
) -> int:  # fmt: skip
    """`balance --by PERIOD [--begin D] [--end D] [--change]` (periods.py)."""
    from ledger_cli.books import ensure_days
    from ledger_cli.periods import period_report

    if by is None:
        raise InvalidValue("--begin, --end and --change need --by month, quarter or year")
    if day is not None:
        raise InvalidValue("--as-of and --by do not go together: give --end (the day after the last one shown)")
    first, after = _day(begin, "--begin"), _day(end, "--end")
    state = _ledger(file, no_cache).state(bound, keys=False, dated=True)
    ensure_days(state)
    render.periods(period_report(state.days, names, by, first, after, change), fmt)
    return 0


def replay(
    file: str | None,
    until: str | None = None,
    fmt: str | None = None,
    as_json: bool = False,
    no_cache: bool = False,
    as_of: str | None = None,
    known_at: str | None = None,
) -> int:
    return balance(file, [], until, fmt, as_json, no_cache, replay=True, as_of=as_of, known_at=known_at)


def accounts(
    file: str | None,
    fmt: str | None = None,
    as_json: bool = False,
    no_cache: bool = False,
    as_of: str | None = None,
    known_at: str | None = None,
    until: str | None = None,
) -> int:
    chosen = _format(fmt, as_json)
    day = _day(as_of, "--as-of")
    ledger, bound = _ledger(file, no_cache), known_bound(until, known_at)
    state = ledger.state(bound, dated=False) if day is None else ledger.as_of(day, bound)
    render.accounts(accounts_report(state), chosen)
    return 0


def verify(file: str | None, fmt: str | None = None, as_json: bool = False, against: list[str] | None = None) -> int:
    """Check the whole log; then that each statement `against` (a kept `replay --json`) holds."""
    chosen = "json" if _format(fmt, as_json) in ("json", "jsonl") else "text"
    statements = []
    if against:
        from ledger_cli.audit import statement

        statements = [(path, statement(path)) for path in against]  # not statements: exit 2 first
    ledger = _ledger(file)
    report = ledger.verify()
    problems = list(report.problems)
    held = []
    if report.ok and statements:
        from ledger_cli.audit import attestation_problem

        for path, kept in statements:
            problem = attestation_problem(ledger, path, kept)
            if problem is None:
                held.append(path)
            else:
                problems.append(problem)
    ok = report.ok and not problems
    render.verified(ok, report.events, report.head, problems, chosen, held if against else None)
    return 0 if ok else int(ExitCode.UNTRUSTED)


def import_batch(
    file: str | None,
    source: str | None = None,
    fmt: str | None = None,
    *,
    quiet: bool = False,
    rules: str | None = None,
    dry_run: bool = False,
) -> int:
    """`ledger import [FILE|-] [--format jsonl|csv] [--rules RULES [--dry-run]]`: append a batch
    all-or-nothing (a bank statement read through its rules, with --rules)."""
    from ledger_cli import batch

    if rules is not None:
        from ledger_cli.bankimport import import_statement

        return import_statement(file, source, rules, quiet=quiet, dry_run=dry_run)
    if dry_run:
        raise InvalidValue("--dry-run is for a bank statement read with --rules")
    name = source or "-"
    kind = fmt or ("csv" if name.lower().endswith(".csv") else "jsonl")
    if kind not in ("jsonl", "csv"):
        raise InvalidValue(f"invalid --format {fmt!r} for import: choose jsonl or csv")
    if name == "-" and stdin_closed():
        raise InvalidValue("cannot read the records from standard input: it is closed")
    try:
        stream = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InvalidValue(f"cannot read {name}: {exc.strerror}") from None
    with stream:
        records = batch.jsonl_records(stream) if kind == "jsonl" else batch.csv_records(stream)
        commands = batch.commands(records)
        if sys.stderr.isatty() and not quiet:
            commands = render.with_progress(commands)
        count, skipped, first = _ledger(file).import_commands(commands)
    if not quiet:
        where = f"seq {first}–{first + count - 1}" if count else "nothing new"
        note = f" ({skipped} already recorded under their idempotency keys)" if skipped else ""
        _confirm(lambda: sys.stdout.write(f"imported {count} events: {where}{note}\n"), f"the batch ({where})")
    return 0


def copy(file: str | None, source: str, destination: str, *, quiet: bool = False, as_json: bool = False) -> int:
    """`ledger copy SRC DST`: append to DST what it lacks of SRC, byte for byte."""
    from ledger_cli.copying import copy as copy_log
    from ledger_cli.copying import location

    where = location(destination, "DST")
    count, seq, head = copy_log(location(source, "SRC"), where)
    if not quiet:
        from ledger_cli.pgdriver import redact

        shown = redact(destination)
        _confirm(lambda: render.copied(count, seq, head, shown, "json" if as_json else None), "the copy")
    return 0


def export(
    file: str | None,
    fmt: str,
    output: str | None,
    as_of: str | None,
    known_at: str | None,
    until: str | None,
    income: str,
    expense: str,
    currency: str = "CC",
    account_map: str | None = None,
    no_cache: bool = False,
) -> int:
    """`ledger export`: the books as an hledger journal, a Beancount file or CSV postings (exports.py)."""
    from ledger_cli import exports

    bound = known_bound(until, known_at)
    day = _day(as_of, "--as-of")
    return exports.export(_ledger(file, no_cache), fmt, output, bound, day, income, expense, currency, account_map)
