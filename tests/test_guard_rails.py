"""Guard rails (issue 9, item 7): rules of the code's shape, as tests that fail when broken.

- the layers: nothing imports the CLI but the entry point; the pure modules (money, values,
  when, events, domain, reports, errors) never import the store, the application, rendering,
  the CLI, rich or typer; rich is imported only by render, typer only by cli (and cliopts); the application
  (service) talks to the store protocol only, never to a store; the application and the
  stores never print (no streams, render or rich: their warnings are returned as notes);
  every module is placed in a layer;
- the fast path's table of commands and options equals the Typer app's, so an option added to
  one cannot silently drift from the other;
- the fast movement check (domain.apply_move) accepts exactly what check() accepts, and then
  leaves the books evolve() would.
"""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest
import typer.main
from hypothesis import given
from hypothesis import strategies as st

from ledger_cli import fastpath
from ledger_cli.cli import app
from ledger_cli.domain import State, check, evolve
from ledger_cli.events import DEPOSITED, TRANSFERRED, WITHDRAWN, Event
from ledger_cli.moves import apply_move

PACKAGE = Path(__file__).resolve().parent.parent / "ledger_cli"
PURE = {"money", "values", "when", "events", "codec", "domain", "commands", "reports", "errors", "dates", "books",
        "moves", "beannames", "periods", "clihelp"}  # fmt: skip
IMPURE = {"store", "service", "fold", "lookup", "stamps", "checkpoint", "render", "actions", "cli", "fastpath",
          "entry", "streams", "interrupts", "batch", "fastcodec", "accel", "eventlog", "memlog", "filelog",
          "config", "folding", "filewriter", "walking", "audit", "histories", "dayfile", "pglog", "pgdriver",
          "pgschema", "pgwrite", "copying", "restated", "linefiles", "exports", "fastexport", "journal", "cliopts",
          "beancount", "csvrules", "statement", "bankimport", "info", "completion", "climore",
          "clireads", "pager", "chart",
          "__init__", "__main__"}  # fmt: skip
# what the application never names:
STORES = {
    "store",
    "filewriter",
    "fold",
    "walking",
    "lookup",
    "checkpoint",
    "dayfile",
    "filelog",
    "memlog",
    "pglog",
    "pgdriver",
    "pgschema",
    "pgwrite",
    "linefiles",
}
SILENT = {"service", "eventlog", "folding", "config", *STORES}  # they never print
PRINTING = {"streams", "render", "rich"}
ONLY_IN = {
    "rich": {"render"},
    "typer": {"cli", "cliopts", "climore", "clireads", "completion", "entry"},
    "ledger_cli.cli": {"entry"},
}


def imports_of(source: str) -> set[str]:
    """Every module a source imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "ledger_cli":
                found.update(f"ledger_cli.{alias.name}" for alias in node.names)
    return found


def violations(modules: dict[str, str]) -> list[str]:
    """The layer rules broken by `modules` (name -> source)."""
    found = []
    for name, source in sorted(modules.items()):
        for imported in sorted(imports_of(source)):
            top = imported.split(".")[0]
            inner = imported.split(".")[1] if imported.startswith("ledger_cli.") else None
            if name in PURE and (inner in IMPURE or top in ("rich", "typer")):
                found.append(f"{name} (pure) imports {imported}")
            if name == "service" and inner in STORES:
                found.append(f"{name} (the application) imports the store {imported}")
            if name in SILENT and (inner in PRINTING or top in PRINTING):
                found.append(f"{name} (never prints) imports {imported}")
            for guarded, allowed in ONLY_IN.items():
                if (imported == guarded or top == guarded) and name not in allowed:
                    found.append(f"{name} imports {imported} (only {', '.join(sorted(allowed))} may)")
    return found


def package_sources() -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in PACKAGE.glob("*.py")}


def test_no_module_breaks_a_layer_rule() -> None:
    assert violations(package_sources()) == []


# Who may touch JSON or SHA-256 at all, and why: the codec (the log's lines) and its msgspec
# accelerator; the checkpoints (their own files, with their own digest); import (its records);
# rendering (output).
# audit: a statement; bankimport: --dry-run's import records; statement: the digest of a bank's row (its key)
JSON_ALLOWED = {"codec", "fastcodec", "checkpoint", "dayfile", "batch", "render", "audit", "bankimport", "statement",
                "info"}  # fmt: skip
# "hash":" only here (a checkpoint file has one too; pgschema: the database's own check of a line)
LINE_ALLOWED = {"codec", "fastcodec", "checkpoint", "pgschema"}


def codec_violations(modules: dict[str, str]) -> list[str]:
    """Modules other than the codec that build or parse a log line (issue 9, item 4)."""
    found = []
    for name, source in sorted(modules.items()):
        used = {imported.split(".")[0] for imported in imports_of(source)}
        if name not in JSON_ALLOWED and used & {"json", "msgspec", "hashlib"}:
            found.append(f"{name} imports {sorted(used & {'json', 'msgspec', 'hashlib'})}")
        if name not in LINE_ALLOWED and ('"hash":"' in source or "'hash':'" in source):
            found.append(f"{name} spells a log line's hash member")
    return found


def test_only_the_codec_builds_or_parses_a_log_line() -> None:
    assert codec_violations(package_sources()) == []


@pytest.mark.parametrize(
    ("name", "line"),
    [("service", "import json"), ("filelog", "from hashlib import sha256"), ("lookup", 'MARK = b\',"hash":"\'')],
)
def test_the_codec_check_catches_a_violation(name: str, line: str) -> None:
    sources = package_sources()
    sources[name] += "\n" + line + "\n"
    assert codec_violations(sources), (name, line)


def test_every_module_is_placed_in_a_layer() -> None:
    assert set(package_sources()) - PURE - IMPURE == set()


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("domain", "from ledger_cli.store import Writer"),
        ("events", "def f():\n    from ledger_cli import render"),
        ("reports", "import rich.table"),
        ("service", "from ledger_cli.cli import app"),
        ("actions", "import typer"),
        ("store", "from rich.console import Console"),
        ("service", "from ledger_cli.filelog import FileLog"),
        ("service", "def f():\n    from ledger_cli import checkpoint"),
        ("filelog", "from ledger_cli.streams import warn"),
        ("service", "from ledger_cli import render"),
    ],
)
def test_the_layer_check_catches_a_violation(name: str, line: str) -> None:
    """The rule is not vacuous: each of these added lines is reported."""
    sources = package_sources()
    sources[name] += "\n" + line + "\n"
    assert violations(sources), (name, line)


# ---- the fast path and the Typer app agree ---------------------------------------------------

COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


def _typer_options(command: str) -> dict[str, tuple[str, bool]]:
    """Option string -> (parameter name, is a flag), for a Typer command (without --help)."""
    table = {}
    for param in COMMANDS[command].params:
        if param.param_type_name != "option":
            continue
        for opt in (*param.opts, *param.secondary_opts):
            if opt not in ("--help", "-h"):
                table[opt] = (param.name, bool(param.is_flag))
    return table


def _fast_options(command: str) -> dict[str, tuple[str, bool]]:
    _, _, _, values, flags = fastpath._COMMANDS[command]
    table = {opt: (name, False) for opt, name in values.items()}
    table.update({opt: (name, True) for opt, name in flags.items()})
    return table


@pytest.mark.parametrize("command", sorted(fastpath._COMMANDS))
def test_the_fast_path_knows_exactly_the_options_of_the_typer_command(command: str) -> None:
    assert command in COMMANDS
    assert _fast_options(command) == _typer_options(command)


@pytest.mark.parametrize("command", sorted(fastpath._COMMANDS))
def test_the_fast_path_takes_the_arguments_of_the_typer_command(command: str) -> None:
    _, positional, variadic, _, _ = fastpath._COMMANDS[command]
    arguments = [param for param in COMMANDS[command].params if param.param_type_name == "argument"]
    assert tuple(param.name for param in arguments) == positional
    assert variadic == any(param.nargs == -1 for param in arguments)


# ---- the fast movement check is check() ------------------------------------------------------

ACCOUNTS = ["a", "b", "c"]
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(200), places=2)


DAYS = [f"2025-12-{day:02d}" for day in range(1, 8)]


@st.composite
def books(draw: st.DrawFn) -> State:
    """A state reached by random dated opens, closes, deposits, withdrawals, transfers and
    period closes and reopenings (each decided, so the state is one the rules allow)."""
    from ledger_cli.codec import seal
    from ledger_cli.domain import Close, ClosePeriod, Deposit, Open, ReopenPeriod, Stamp, Transfer, Withdraw, decide
    from ledger_cli.errors import LedgerError
    from ledger_cli.money import money_context

    state = State()
    makers = [
        lambda a, b, x, d: Deposit(a, x, date=d),
        lambda a, b, x, d: Withdraw(a, x, date=d),
        lambda a, b, x, d: Transfer(a, b, x, date=d),
        lambda a, b, x, d: Open(a, date=d),
        lambda a, b, x, d: Close(a, date=d),
        lambda a, b, x, d: ClosePeriod(d),
        lambda a, b, x, d: ReopenPeriod(d, "why"),
    ]
    for n in range(draw(st.integers(0, 14))):
        weights = st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5, 6])
        make = makers[draw(weights)]
        command = make(
            draw(st.sampled_from(ACCOUNTS)), draw(st.sampled_from(ACCOUNTS)), draw(AMOUNTS), draw(st.sampled_from(DAYS))
        )
        stamp = Stamp(f"2025-12-08T00:00:{n:02d}.000000Z", f"00000000-0000-4000-8000-{n:012x}", "2025-12-08")
        try:
            with money_context():
                for event in decide(command, state, stamp):
                    seal(event)
                    evolve(state, event)
        except LedgerError:
            pass
    return state


def _copy(state: State) -> State:
    import copy

    return copy.deepcopy(state)


@given(
    state=books(),
    kind=st.sampled_from([DEPOSITED, WITHDRAWN, TRANSFERRED]),
    account=st.sampled_from(ACCOUNTS),
    to=st.sampled_from(ACCOUNTS),
    amount=AMOUNTS,
    date=st.sampled_from(DAYS),
)
def test_apply_move_accepts_exactly_what_check_accepts_and_leaves_what_evolve_leaves(
    state: State, kind: str, account: str, to: str, amount: Decimal, date: str
) -> None:
    target = to if kind == TRANSFERRED else None
    event = Event(
        type=kind, seq=state.seq + 1, id="x", ts="2025-12-08T01:00:00.000000Z", prev="p", account=account,
        to=target, amount=str(amount), date=date,
    )  # fmt: skip
    fast = _copy(state)
    accepted = apply_move(fast, kind, account, target, amount, date)
    assert accepted == (check(state, event) is None)
    if accepted:
        slow = evolve(_copy(state), event)
        assert (fast.balances, fast.open, fast.days, fast.last_day) == (
            slow.balances,
            slow.open,
            slow.days,
            slow.last_day,
        )
    else:
        assert fast == state  # untouched
