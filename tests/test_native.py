"""The C extension (ledger_cli/_native.c) against the pure-Python reader it speeds up.

The extension may only ever agree with the Python path: the same books from the same
bytes, the same error (line and message) from a damaged log, the same verdict on every
value. Each test here compares the two on the same input.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import accel, fold
from ledger_cli.codec import movement_line
from ledger_cli.config import ledger_at
from ledger_cli.domain import Close, Deposit, Open, Reverse, Transfer, Withdraw
from ledger_cli.errors import LedgerError
from ledger_cli.money import amount_problem, money_context
from ledger_cli.values import account_problem, key_problem, memo_problem
from ledger_cli.when import Point
from tests.conftest import Runner
from tests.helpers_log import GENESIS, seal
from tests.test_reader_fuzz import OPS, _mutate, event_fields

# Where the extension could not be built (no compiler), the package runs on its Python path and
# there is nothing here to hold to it: the module is skipped, with the reason shown.
native = pytest.importorskip("ledger_cli._native", reason="the C extension is not built here")
if accel.native() is None:  # built, but turned off (LEDGER_CLI_NATIVE=0): nothing to compare
    pytest.skip("the C extension is turned off (LEDGER_CLI_NATIVE=0)", allow_module_level=True)

PARITY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def native_fold(
    block: bytes,
    pos: int,
    seq: int,
    head: str,
    ts: str,
    balances: dict,
    opened: dict,
    keys: dict | None,
    stop: int,
    bound_ts: str | None,
    token: object,
    starts: list | None = None,
    only: str | None = None,
    reversed_by: dict | None = None,
    reversals: list | None = None,
    fd: int = -1,
    offset: int = 0,
    days: dict | None = None,
    last_day: dict | None = None,
    status: dict | None = None,
    closed_through: str | None = None,
) -> tuple[int, int, int, str, str, int]:
    """native.fold with the books by date (empty ones unless given) after the older arguments."""
    return native.fold(  # type: ignore[no-any-return]
        block, pos, seq, head, ts, balances, opened, keys, stop, bound_ts, token, starts, only, reversed_by,
        reversals, fd, offset, {} if days is None else days, {} if last_day is None else last_day,
        {} if status is None else status, closed_through,
    )  # fmt: skip


@contextmanager
def python_path() -> Iterator[None]:
    """Fold without the extension for the duration."""
    saved = accel._found[:]
    accel._found[:] = [None]
    try:
        yield
    finally:
        accel._found[:] = saved


def outcome(path: Path, until: Point | None = None) -> object:
    """What reading `path` gives: the books (as plain values) or the error's kind and text."""
    try:
        state = ledger_at(path, use_cache=False).state(until)
    except LedgerError as exc:
        return type(exc).__name__, str(exc)
    return state.seq, state.head, state.ts, state.balances, state.open, state.keys, state.reversed_by


def verdict(path: Path) -> object:
    report = ledger_at(path, use_cache=False).verify()
    return report.ok, report.events, report.head, report.problems


BOUNDS = [Point("3", seq=3), Point("t", ts="2025-01-01T00:00:05.000000Z")]


def assert_same_reads(path: Path) -> None:
    """Every kind of read of `path` gives the same with the extension as without it.

    One difference is allowed, in bounded reads: the Python reader verifies whole blocks
    (64 KiB) before it looks for the bound, so it may name a bad line past the bound that
    the extension never reads: it stops right after event N for `--until N`, and at the
    first (verified) line after the instant for `--until TIME`.
    """
    assert fold.native_fold() is not None
    fast = [outcome(path), verdict(path), *(outcome(path, bound) for bound in BOUNDS)]
    with python_path():
        slow = [outcome(path), verdict(path), *(outcome(path, bound) for bound in BOUNDS)]
    assert fast[:2] == slow[:2]
    for bound, mine, theirs in zip(BOUNDS, fast[2:], slow[2:]):
        if mine != theirs:
            assert isinstance(mine[0], int) and theirs[0] == "LogCorrupt", (mine, theirs)  # type: ignore[index]
            bad_line = int(str(theirs[1]).split(":")[0].removeprefix("line "))  # type: ignore[index]
            read = mine[0] if bound.seq is not None else mine[0] + 1  # type: ignore[index]
            assert bad_line > read, (mine, theirs)


class Clock:
    """2025-01-01T00:00:01, :02, …: one second per event, so the bounds above fall mid-log."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"2025-01-01T00:00:{self.n:02d}.000000Z"


def test_the_extension_is_what_folds_by_default() -> None:
    assert native.API == accel.API
    assert fold.native_fold() is native.fold


def test_a_stale_build_of_the_extension_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "_found", [])
    monkeypatch.setattr(native, "API", accel.API - 1)
    assert accel.native() is None
    monkeypatch.setattr(accel, "_found", [])
    monkeypatch.setenv("LEDGER_CLI_NATIVE", "0")
    monkeypatch.setattr(native, "API", accel.API)
    assert accel.native() is None


@pytest.mark.parametrize("portable", [True, False], ids=["portable", "cpu"])
def test_sha256_matches_hashlib_at_every_length_around_the_block_edges(portable: bool) -> None:
    native.use_portable_sha(portable)
    try:
        for size in range(1, 700):
            data = bytes((i * 131 + size) % 256 for i in range(size))
            assert native.sha256_hex(data) == hashlib.sha256(data).hexdigest(), size
    finally:
        native.use_portable_sha(False)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=1, max_size=2000))
def test_sha256_matches_hashlib_on_random_bytes(data: bytes) -> None:
    assert native.sha256_hex(data) == hashlib.sha256(data).hexdigest()


def _one_deposit(**fields: object) -> bytes:
    base: dict[str, object] = {
        "v": 1,
        "seq": 1,
        "id": "00000000-0000-7000-8000-000000000001",
        "ts": "2025-01-01T00:00:01.000000Z",
        "prev": GENESIS,
        "type": "deposited",
        "account": "acct",
        "amount": "5",
    }
    return seal({**base, **fields})


def _accepts(line: bytes) -> bool:
    """Whether the extension applies this one deposit (it hands anything else to Python)."""
    native.clear_caches()
    with money_context():
        code = native_fold(line, 0, 0, GENESIS, "", {}, {}, {}, -1, None, object())[0]
    assert code in (0, 1)
    return code == 0


AMOUNTS = st.one_of(
    st.from_regex(r"[0-9]{1,32}(\.[0-9]{0,20})?", fullmatch=True),
    st.text(alphabet="0123456789.e-+ ,_", max_size=12),
    st.sampled_from(["0", "0.0", "00.000", "1" * 30, "1" * 31, "0" * 5 + "1" * 30, "1." + "0" * 18, "1." + "0" * 19]),
)


@settings(max_examples=400, deadline=None)
@given(text=AMOUNTS)
def test_an_amount_is_applied_only_if_the_python_rules_accept_it(text: str) -> None:
    """...and fits the extension's integers (below 10^19); a bigger one goes to Python."""
    accepted = _accepts(_one_deposit(amount=text))
    fits = len(text.partition(".")[0].lstrip("0")) <= 19
    assert accepted == (amount_problem(text) is None and fits), text


@settings(max_examples=300, deadline=None)
@given(text=AMOUNTS)
def test_the_import_amount_check_gives_the_python_verdict_and_value(text: str) -> None:
    value = native.amount(text)
    if amount_problem(text) is None:
        assert value is not None and value == Decimal(text) and str(value) == str(Decimal(text))
    else:
        assert value is None


# Pieces of names: ASCII that is and is not allowed, a composed and a decomposed é (not NFC),
# CJK, a zero-width space, a no-break space, an Arabic-Indic digit, a line separator, DEL.
PIECES = list("aZ09_-.: ") + ["é", "e\u0301", "東", "\u200b", "\u00a0", "٣", "\u2028", "\x7f"]
NAMES = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(name=st.one_of(NAMES, st.text(max_size=6), st.sampled_from(["a" * 128, "a" * 129, "é" * 128, "é" * 129])))
def test_an_account_is_applied_only_if_the_python_rules_accept_it(name: str) -> None:
    try:
        line = _one_deposit(account=name)
    except UnicodeEncodeError:  # a lone surrogate cannot be written at all
        return
    assert _accepts(line) == (account_problem(name) is None), repr(name)


@settings(max_examples=300, deadline=None)
@given(
    memo=st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["x" * 1000, "x" * 1001, "\x7f", 'a"b', "é"])),
    key=st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["", "k" * 200, "k" * 201, " ", "\x7f", "\u00a0"])),
)
def test_a_memo_and_key_are_applied_only_if_the_python_rules_accept_them(memo: str | None, key: str | None) -> None:
    fields = {name: value for name, value in (("memo", memo), ("key", key)) if value is not None}
    try:
        line = _one_deposit(**fields)
    except UnicodeEncodeError:
        return
    valid = (memo is None or memo_problem(memo) is None) and (key is None or key_problem(key) is None)
    assert _accepts(line) == valid, fields  # quotes and backslashes (escaped) are applied too


ESCAPES = st.text(alphabet='ab"\\é東\n\x7f ', max_size=12)


@given(memo=st.one_of(st.none(), ESCAPES), key=st.one_of(st.none(), ESCAPES))
def test_memos_and_keys_with_quotes_and_backslashes_are_applied_natively_with_their_value(
    memo: str | None, key: str | None
) -> None:
    fields = {name: value for name, value in (("memo", memo), ("key", key)) if value is not None}
    line = _one_deposit(**fields)
    valid = (memo is None or memo_problem(memo) is None) and (key is None or key_problem(key) is None)
    native.clear_caches()
    keys: dict[str, int] = {}
    with money_context():
        code = native_fold(line, 0, 0, GENESIS, "", {}, {}, keys, -1, None, object())[0]
    assert (code == 0) == valid, fields
    if code == 0 and key is not None:
        assert keys == {key: 1}  # the key as the text it stands for, escapes undone


@given(memo=st.one_of(st.none(), ESCAPES), key=st.one_of(st.none(), ESCAPES))
def test_seal_move_writes_what_movement_line_writes_for_quotes_and_backslashes(
    memo: str | None, key: str | None
) -> None:
    if (memo is not None and memo_problem(memo)) or (key is not None and key_problem(key)):
        return  # seal_move is given valid values only
    fields = ("deposited", 7, "00000000-0000-7000-8000-000000000001", "2025-01-01T00:00:01.000000Z", GENESIS,
              "acct", None, "5", memo, key, "2024-12-31")  # fmt: skip
    assert native.seal_move(*fields) == movement_line(*fields)


def test_every_character_gets_the_python_verdict_as_a_memo_and_as_a_key() -> None:
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:  # lone surrogates cannot be written to a log at all
            continue
        char = chr(code)
        assert native.text_ok("memo", char) == (memo_problem(char) is None), hex(code)
        assert native.text_ok("key", char) == (key_problem(char) is None), hex(code)
    for text in ["x" * 1000, "é" * 1000, "é" * 1001, "\u3000" * 1001, "k" * 200, "é" * 200, "é" * 201, ""]:
        assert native.text_ok("memo", text) == (memo_problem(text) is None), text[:3]
        assert native.text_ok("key", text) == (key_problem(text) is None), text[:3]


def test_a_handed_off_line_is_read_by_python_and_the_fold_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    book = ledger_at(path, use_cache=False)
    for command in (
        Deposit("acct", Decimal("100"), 'a "quoted" memo', "k\\1"),  # escapes: Python's
        Open("spare"),
        Withdraw("acct", Decimal("1.5")),
        Transfer("acct", "東京", Decimal("40"), "ünïcode"),
        Reverse(3),
        Close("spare"),
        Deposit("acct", Decimal("0.000000000000000001")),
    ):
        book.execute(command)
    assert_same_reads(path)
    assert outcome(path)[0] == 7  # type: ignore[index]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A log of mostly movements (what the extension folds), with every other kind mixed in."""
    path = tmp_path_factory.mktemp("native") / "original.jsonl"
    book = ledger_at(path, use_cache=False, clock=Clock())
    for command in (
        Deposit("acct", Decimal("100.50"), "café ✓", "k1"),
        Deposit("bank:savings", Decimal("7")),
        Open("spare"),
        Withdraw("acct", Decimal("0.50"), "cash"),
        Transfer("acct", "bank:savings", Decimal("40"), None, "k2"),
        Reverse(5, "oops"),
        Transfer("bank:savings", "東京", Decimal("5.25")),
        Withdraw("東京", Decimal("2")),
        Close("spare"),
        Deposit("東京", Decimal("0.000000000000000001")),
        Deposit("acct", Decimal("3"), None, "k3"),
    ):
        book.execute(command)
    return path.read_bytes()


@PARITY
@given(ops=OPS)
def test_a_mutated_log_reads_the_same_with_and_without_the_extension(
    tmp_path: Path, original: bytes, ops: list[tuple[str, int, int, bytes]]
) -> None:
    path = tmp_path / "mutated.jsonl"
    path.write_bytes(_mutate(original, ops))
    shutil.rmtree(path.with_name(path.name + ".cache"), ignore_errors=True)
    assert_same_reads(path)


@PARITY
@given(chain=st.lists(event_fields(), min_size=1, max_size=8))
def test_a_sealed_chain_of_random_events_reads_the_same_with_and_without_the_extension(
    tmp_path: Path, chain: list[dict[str, object]]
) -> None:
    prev, data = GENESIS, b""
    funded = [{"type": "deposited", "account": name, "amount": "1000"} for name in ("acct", "bank:savings", "東京")]
    for seq, extra in enumerate([*funded, *chain], start=1):
        fields = {
            "v": 1,
            "seq": seq,
            "id": f"00000000-0000-7000-8000-{seq:012d}",
            "ts": f"2025-01-01T00:00:{seq:02d}.000000Z",
            "prev": prev,
            **extra,
        }
        line = seal(fields)
        prev = line[-67:-3].decode()
        data += line
    path = tmp_path / "sealed.jsonl"
    path.write_bytes(data)
    assert_same_reads(path)


HISTORIES = [[], ["--last", "2"], ["acct"], ["acct", "--last", "1"], ["bank", "--since", "4"], ["東京", "--json"]]
HISTORIES_UNTIL = [["--until", "5"], ["acct", "--until", "6", "--last", "2"]]


def histories(path: Path, variants: list[list[str]]) -> list[tuple[int, str, str]]:
    run = Runner("fast", path)
    return [(out.code, out.stdout, out.stderr) for out in (run("-f", str(path), "history", *a) for a in variants)]


def assert_same_histories(path: Path, variants: list[list[str]]) -> None:
    """`history` prints the same with the extension (which hands the visitor only the lines
    it must show) as without it (every event)."""
    fast = histories(path, variants)
    with python_path():
        slow = histories(path, variants)
    assert fast == slow


def test_history_is_the_same_with_and_without_the_extension(tmp_path: Path, original: bytes) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(original)
    assert_same_histories(path, HISTORIES + HISTORIES_UNTIL)
    assert histories(path, [["acct", "--last", "1"]])[0][1].count("\n") == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_history_of_a_mutated_log_is_the_same_with_and_without_the_extension(
    tmp_path: Path, original: bytes, ops: list[tuple[str, int, int, bytes]]
) -> None:
    path = tmp_path / "mutated-history.jsonl"
    path.write_bytes(_mutate(original, ops))
    assert_same_histories(path, HISTORIES)  # (--until may differ as in assert_same_reads)


BIG = st.sampled_from(["9" * 19, "1" * 20, "12345678901234567890123.5", "0.000000000000000001", "7.10", "3"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.sampled_from(["deposited", "withdrawn", "transferred"]), BIG, st.booleans())))
def test_balances_past_the_extensions_integers_are_folded_by_python_with_the_same_books(
    tmp_path: Path, moves: list[tuple[str, str, bool]]
) -> None:
    """Amounts from 10^-18 to 10^23 in one log: the extension hands lines with amounts or
    balances it cannot hold to Python, writing its balances back first; the books agree."""
    prev, data, seq = GENESIS, b"", 0
    for kind, amount, flip in [("deposited", "1" * 25, False), ("deposited", "5", True), *moves]:
        seq += 1
        source, target = ("a", "b") if not flip else ("b", "a")
        fields: dict[str, object] = {"type": kind, "account": source, "amount": amount}
        if kind == "transferred":
            fields["to"] = target
        stamp = f"2025-01-01T00:{seq // 60:02d}:{seq % 60:02d}.000000Z"
        ident = f"00000000-0000-7000-8000-{seq:012d}"
        line = seal({"v": 1, "seq": seq, "id": ident, "ts": stamp, "prev": prev, **fields})
        prev = line[-67:-3].decode()
        data += line
    path = tmp_path / "big.jsonl"
    path.write_bytes(data)
    assert_same_reads(path)


# ---- schema v2: dates, the rules by date, closed periods (contract section 7) ------------------
# The extension folds v1 and v2 lines alike, and mirrors the books by date (State.days, last_day,
# status) and their rules (moves.apply_move, domain.check); period events, and every line those
# rules refuse, go to Python. Each test compares the whole State, or verify's report, with the
# pure path's, and counts the lines handed to Python to show the common ones stayed native.

DAY0 = "2025-03-01"


def dated_ts(seq: int) -> str:
    """Five hours apart from 2025-03-01T00:00, so v1 lines' local days differ between zones."""
    hours = 5 * seq
    return f"2025-03-{1 + hours // 24:02d}T{hours % 24:02d}:{seq % 60:02d}:00.000000Z"


def write_dated(path: Path, chain: list[dict[str, object]]) -> bytes:
    """Seal `chain` into a log at `path`: seq, id, ts and prev filled in; each event v2 with its
    `date` unless it says "v": 1 (then it has none), or gives its own "v" and "date"."""
    prev, data = GENESIS, b""
    for seq, extra in enumerate(chain, start=1):
        fields: dict[str, object] = {
            "v": 2, "seq": seq, "id": f"00000000-0000-7000-8000-{seq:012d}", "ts": dated_ts(seq), "prev": prev,
        }  # fmt: skip
        fields.update(extra)
        if fields["v"] == 1:
            fields.pop("date", None)
        elif fields.get("date") is None:
            fields["date"] = str(fields["ts"])[:10]
        line = seal({k: v for k, v in fields.items() if v is not None})
        prev = line[-67:-3].decode()
        data += line
    path.write_bytes(data)
    return data


def whole_outcome(path: Path) -> object:
    """The whole State after reading `path` (every slot of the books, its changes per day
    included), or the error's kind and text."""
    try:
        state = ledger_at(path, use_cache=False).state(dated=True)
    except LedgerError as exc:
        return type(exc).__name__, str(exc)
    return {name: getattr(state, name) for name in state._compared}


def handed_to_python(path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many events a read of `path` with the extension hands to the Python rules."""
    count = [0]
    apply = fold.apply_block

    def counted(state: object, events: list[object]) -> object:
        count[0] += len(events)
        return apply(state, events)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(fold, "apply_block", counted)
        whole_outcome(path)
    return count[0]


def assert_same_dated(path: Path) -> object:
    """The whole State and verify's report are the same with and without the extension (and the
    bounded reads of assert_same_reads); returns the extension's State or error."""
    fast = [whole_outcome(path), verdict(path)]
    with python_path():
        slow = [whole_outcome(path), verdict(path)]
    assert fast == slow
    assert_same_reads(path)
    return fast[0]


def dep(account: str, amount: str, date: str | None = None, **more: object) -> dict[str, object]:
    return {"type": "deposited", "account": account, "amount": amount, "date": date, **more}


def wd(account: str, amount: str, date: str | None = None, **more: object) -> dict[str, object]:
    return {"type": "withdrawn", "account": account, "amount": amount, "date": date, **more}


def xfer(source: str, to: str, amount: str, date: str | None = None, **more: object) -> dict[str, object]:
    return {"type": "transferred", "account": source, "to": to, "amount": amount, "date": date, **more}


def test_a_v2_log_is_folded_natively_with_the_books_by_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v2.jsonl"
    write_dated(path, [
        dep("acct", "100.50", "2025-02-20"), dep("bank", "7"), {"type": "account_opened", "account": "spare"},
        wd("acct", "0.50", memo="cash"), xfer("acct", "bank", "40", "2025-02-25"), dep("acct", "1.000"),
        xfer("bank", "東京", "5.25"), wd("東京", "2", "2025-03-02"), dep("acct", "0.000000000000000001"),
    ])  # fmt: skip
    state = assert_same_dated(path)
    assert isinstance(state, dict)
    assert state["days"]["acct"] == {
        "2025-02-20": Decimal("100.50"), "2025-02-25": Decimal(-40), "2025-03-01": Decimal("-0.50"),
        "2025-03-02": Decimal("1.000000000000000001"),
    }  # fmt: skip
    assert state["last_day"] == {"acct": "2025-03-02", "bank": "2025-03-02", "東京": "2025-03-02"}
    assert state["status"] == {}  # a first open (or by money) has no entry: it blocks nothing
    assert handed_to_python(path, monkeypatch) == 0


def test_a_mixed_v1_and_v2_log_dates_v1_lines_by_their_local_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.jsonl"
    chain: list[dict[str, object]] = []
    for n in range(24):
        chain.append(dep("acct", f"{n + 1}", v=1) if n % 3 else dep("acct", f"{n + 1}"))
        chain.append(wd("acct", "0.5", v=1) if n % 2 else xfer("acct", "bank", "0.25", f"2025-03-{1 + n // 5:02d}"))
    chain += [{"type": "account_opened", "account": "spare", "v": 1}, {"type": "account_closed", "account": "spare"}]
    write_dated(path, chain)
    assert_same_dated(path)
    assert handed_to_python(path, monkeypatch) == 0


def test_backdated_debits_are_applied_natively_and_a_refused_one_is_named_as_python_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "backdated.jsonl"
    good = [
        dep("acct", "100", "2025-02-01"), wd("acct", "60", "2025-02-10"), wd("acct", "30", "2025-02-05"),
        dep("bank", "5", "2025-02-03"), xfer("acct", "bank", "10", "2025-02-06"), dep("acct", "1", "2025-02-06"),
        dep("acct", "50", "2025-02-11"),
    ]  # fmt: skip
    write_dated(path, good)
    state = assert_same_dated(path)
    assert isinstance(state, dict) and state["balances"]["acct"] == 51
    assert state["days"]["acct"] == {
        "2025-02-01": Decimal(100), "2025-02-05": Decimal(-30), "2025-02-06": Decimal(-9), "2025-02-10": Decimal(-60),
        "2025-02-11": Decimal(50),
    }  # fmt: skip
    assert handed_to_python(path, monkeypatch) == 0
    # By date acct had 100, 70, 61, 1 and 51 on those days: 51 now, but only 1 from 02-01 to 02-10 on.
    for refused, named in (
        (wd("acct", "2", "2025-02-05"), "acct had 1 on 2025-02-10, needs 2"),
        (xfer("acct", "bank", "1.5", "2025-02-01"), "acct had 1 on 2025-02-10, needs 1.5"),
        (wd("acct", "52"), "acct has 51, needs 52"),
    ):
        write_dated(path, [*good, refused])
        result = assert_same_dated(path)
        assert result == ("LogCorrupt", f"line 8: insufficient funds: {named}"), result
    for accepted in (wd("acct", "1", "2025-02-05"), wd("acct", "2", "2025-02-11"), wd("acct", "51")):
        write_dated(path, [*good, accepted])
        assert isinstance(assert_same_dated(path), dict)
        assert handed_to_python(path, monkeypatch) == 0


def test_closes_and_reopens_by_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "reopen.jsonl"
    good: list[dict[str, object]] = [
        {"type": "account_opened", "account": "a", "date": "2025-02-01"}, dep("a", "5", "2025-02-02"),
        wd("a", "5", "2025-02-04"), {"type": "account_closed", "account": "a", "date": "2025-02-10"},
        {"type": "account_opened", "account": "a", "date": "2025-02-12"}, dep("a", "3", "2025-02-12"),
        dep("b", "5", "2025-02-11"), xfer("b", "a", "1", "2025-02-13"),
    ]  # fmt: skip
    write_dated(path, good)
    state = assert_same_dated(path)
    assert isinstance(state, dict)
    assert state["status"] == {"a": [("2025-02-10", 4, False), ("2025-02-12", 5, True)]}
    assert handed_to_python(path, monkeypatch) == 0
    for refused in (
        dep("a", "1", "2025-02-11"),  # before the reopening
        xfer("b", "a", "1", "2025-02-11"),  # a credit before the reopening
        xfer("a", "b", "1", "2025-02-11"),  # a debit before the reopening
        {"type": "reversed", "target": 6, "account": "a", "amount": "3", "date": "2025-02-11"},
    ):
        write_dated(path, [*good, refused])
        result = assert_same_dated(path)
        assert result[0] == "LogCorrupt" and "was closed until 2025-02-12" in str(result[1]), (refused, result)  # type: ignore[index]
    for refused, named in (
        ({"type": "account_opened", "account": "a", "date": "2025-02-09"}, "cannot be reopened on an earlier day"),
        ({"type": "account_closed", "account": "a", "date": "2025-02-12"}, "already closed"),
    ):
        write_dated(path, [*good[:4], refused])
        result = assert_same_dated(path)
        assert result[0] == "LogCorrupt" and named in str(result[1]), (refused, result)  # type: ignore[index]
    write_dated(path, [*good[:3], {"type": "account_closed", "account": "a", "date": "2025-02-03"}])
    result = assert_same_dated(path)  # a close dated before an entry of the account
    assert result[0] == "LogCorrupt" and "entries dated after 2025-02-03" in str(result[1]), result  # type: ignore[index]
    write_dated(path, [*good[:3], {"type": "account_closed", "account": "a", "date": "2025-02-04"}])
    assert isinstance(assert_same_dated(path), dict)
    assert handed_to_python(path, monkeypatch) == 0


def test_period_events_go_to_python_and_a_line_dated_in_the_closed_period_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "periods.jsonl"
    good: list[dict[str, object]] = [
        dep("acct", "10", "2025-02-01"), {"type": "period_closed", "date": "2025-02-28"},
        dep("acct", "1", "2025-03-01"), {"type": "period_reopened", "date": "2025-02-15", "memo": "late invoice"},
        wd("acct", "2", "2025-02-15"), {"type": "period_closed", "date": "2025-02-28", "memo": "again"},
        dep("acct", "1", "2025-03-02", v=2),
    ]  # fmt: skip
    write_dated(path, good)
    state = assert_same_dated(path)
    assert isinstance(state, dict) and state["closed_through"] == "2025-02-28" and state["closed_seq"] == 6
    assert handed_to_python(path, monkeypatch) == 3  # the period events, nothing else
    for refused in (wd("acct", "1", "2025-02-28"), {"type": "account_opened", "account": "x", "date": "2025-01-01"},
                    dep("acct", "1", "2025-02-20", v=2)):  # fmt: skip
        write_dated(path, [*good, refused])
        result = assert_same_dated(path)
        assert result == ("LogCorrupt", result[1]) and "closed through 2025-02-28 (seq 6)" in str(result[1])  # type: ignore[index]
        report = ledger_at(path, use_cache=False).verify()
        assert not report.ok and report.events == 7 and "8" in report.problems[0], report.problems
    # v1 lines are dated by their ts: in a period closed after them, a new v1 line is refused.
    write_dated(path, [*good, {"type": "period_closed", "date": "2025-03-03"}, dep("acct", "1", v=1)])
    result = assert_same_dated(path)
    assert result[0] == "LogCorrupt" and str(result[1]).startswith("line 9:"), result  # type: ignore[index]


def test_the_cli_verify_of_a_line_in_a_closed_period_exits_3_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "cli-period.jsonl"
    write_dated(path, [dep("acct", "10", "2025-02-01"), {"type": "period_closed", "date": "2025-02-28"},
                       dep("acct", "1", "2025-02-27")])  # fmt: skip
    run = Runner("fast", path)
    fast = run("-f", str(path), "verify")
    with python_path():
        slow = run("-f", str(path), "verify")
    assert (fast.code, fast.stdout, fast.stderr) == (slow.code, slow.stdout, slow.stderr)
    assert fast.code == 3 and "closed through 2025-02-28 (seq 2)" in fast.stdout + fast.stderr, fast


@pytest.mark.parametrize("v1_target", [False, True], ids=["v2-target", "v1-target"])
def test_reversals_dated_before_their_target_are_named_by_verify(tmp_path: Path, v1_target: bool) -> None:
    """The extension vouches only for reversals dated on or after their target (a v1 target's
    date is the local day of its ts); verify names the others, with and without it."""
    path = tmp_path / "reversal-dates.jsonl"
    target = wd("acct", "5", v=1) if v1_target else wd("acct", "5", "2025-03-02")
    write_dated(path, [
        dep("acct", "20", "2025-02-01"), dep("bank", "10", "2025-02-01"),
        {"type": "reversed", "target": 2, "account": "bank", "amount": "10.0", "date": "2025-02-01"},  # same day
        target,
        {"type": "reversed", "target": 4, "to": "acct", "amount": "5", "date": "2025-03-02"},  # not before it
    ])  # fmt: skip
    assert isinstance(assert_same_dated(path), dict)
    assert ledger_at(path, use_cache=False).verify().problems == []
    data = write_dated(path, [
        dep("acct", "20", "2025-02-01"), dep("bank", "10", "2025-02-01"),
        {"type": "reversed", "target": 2, "account": "bank", "amount": "10.0", "date": "2025-02-01"},
        target,
        {"type": "reversed", "target": 4, "to": "acct", "amount": "5", "date": "2025-02-28"},  # before it: named
    ])  # fmt: skip
    assert data.count(b'"type":"reversed"') == 2
    assert isinstance(assert_same_dated(path), dict)
    problems = ledger_at(path, use_cache=False).verify().problems
    assert len(problems) == 1 and problems[0].startswith(
        "line 5: is dated 2025-02-28, before the event it reverses (seq 4"
    ), problems


@pytest.mark.parametrize(
    "odd",
    [
        {"v": 2, "date": None},  # v2 without its date
        {"v": 1, "date": "2025-03-01"},  # a v1 line with a date
        {"v": 3},  # newer than this ledger
        {"date": "2025-02-30"},  # not a real day
        {"date": "2025-3-01"},
        {"date": "2025-03-03"},  # two days after its ts
        {"date": "0000-12-31"},
        {"type": "period_closed", "account": None, "amount": None},
        {"type": "period_reopened", "account": None, "amount": None, "v": 1},
    ],
)
def test_a_line_with_a_wrong_version_or_date_is_named_as_python_names_it(
    tmp_path: Path, odd: dict[str, object]
) -> None:
    path = tmp_path / "odd.jsonl"
    good = [dep("acct", "10"), dep("acct", "1", "2025-03-02")]  # the day after the ts's day is allowed
    prev, data = GENESIS, b""
    for seq, extra in enumerate([*good, dep("acct", "1")], start=1):
        fields = {"v": 2, "seq": seq, "id": f"00000000-0000-7000-8000-{seq:012d}", "ts": "2025-03-01T10:00:00.000000Z",
                  "prev": prev, "date": "2025-03-01"}  # fmt: skip
        fields.update({k: v for k, v in extra.items() if v is not None})
        if seq == 3:
            fields.update(odd)
        line = seal({k: v for k, v in fields.items() if v is not None})
        prev, data = line[-67:-3].decode(), data + line
    path.write_bytes(data)
    result = assert_same_dated(path)
    if odd.get("type") == "period_closed":  # a valid one
        assert isinstance(result, dict) and result["closed_through"] == "2025-03-01"
    else:
        assert result[0] == "LogCorrupt" and str(result[1]).startswith("line 3:"), result  # type: ignore[index]


ZONE_SCRIPT = """
import json, sys
from ledger_cli import accel
from ledger_cli.config import ledger_at
def whole():
    state = ledger_at(sys.argv[1], use_cache=False).state(dated=True)
    return {name: getattr(state, name) for name in state._compared}
native_on = accel.native() is not None
fast = whole()
accel._found[:] = [None]
slow = whole()
days = {a: {d: str(v) for d, v in changes.items()} for a, changes in fast["days"].items()}
print(json.dumps({"same": fast == slow, "native": native_on, "days": days, "status": fast["status"]}))
"""


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_v1_lines_are_dated_in_the_readers_time_zone_as_python_dates_them(tmp_path: Path, zone: str) -> None:
    import json
    import os
    import subprocess
    import sys

    path = tmp_path / "zones.jsonl"
    chain: list[dict[str, object]] = [{"type": "account_opened", "account": "spare", "v": 1}]
    for _ in range(30):
        chain += [dep("acct", "3", v=1), wd("acct", "1", v=1), xfer("acct", "bank", "1", v=1)]  # type: ignore[call-arg]
    chain += [{"type": "account_closed", "account": "spare", "v": 1}, dep("acct", "1", "2025-03-20")]
    write_dated(path, chain)
    seen = {}
    for tz in (zone, "UTC"):
        env = {**os.environ, "TZ": tz}
        env.pop("LEDGER_CLI_NATIVE", None)
        done = subprocess.run(
            [sys.executable, "-c", ZONE_SCRIPT, str(path)], env=env, capture_output=True, text=True, check=True
        )
        seen[tz] = json.loads(done.stdout)
        assert seen[tz]["same"] and seen[tz]["native"], (tz, done.stdout)
    if zone != "UTC":  # the zone moved some lines to another day: the comparison above meant something
        assert seen[zone]["days"] != seen["UTC"]["days"]


# Random dated histories: candidates made of random kinds, accounts, amounts, dates (some days
# back) and versions; each kept only if the pure rules (domain.check) accept it, so the log is a
# valid one that backdates, closes, reopens, reverses and closes periods; then, sometimes, one
# candidate they refuse, which both paths must name alike.
ACCOUNTS = ["a", "b", "c:d"]
CANDIDATE = st.tuples(
    st.sampled_from(["deposited"] * 3 + ["withdrawn"] * 2 + ["transferred"] * 2
                    + ["drain", "account_opened", "account_closed", "account_closed", "reversed", "period_closed",
                       "period_reopened"]),
    st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS),
    st.sampled_from(["1", "2.5", "10", "0.01", "7.125", "100"]),
    st.sampled_from([0] * 6 + [1, 2, 3, 5, 8, 12, 20, -1]),  # days back from the ts's day (-1: the day after)
    st.booleans(),  # v1 (no date) for the kinds v1 has
    st.integers(min_value=1, max_value=40),  # a reversal's target
)  # fmt: skip


def dated_history(candidates: list[tuple[str, str, str, str, int, bool, int]], poison: int | None) -> bytes:
    """The sealed log of the candidates the rules accept, in order; with `poison`, it ends at the
    first candidate from that index on that the rules by date refuse (their messages name a day),
    if any, kept: those are the refusals the extension must see too."""
    from ledger_cli.codec import seal as seal_event
    from ledger_cli.dates import shift
    from ledger_cli.domain import State, check, evolve, reversal_of
    from ledger_cli.events import Event
    from ledger_cli.money import format_amount

    state, events, data = State(), {}, b""
    funded = [("deposited", name, name, "50", 12, False, 1) for name in ACCOUNTS]  # by date too: 12 days back
    with money_context():
        for n, (kind, account, to, amount, back, v1, target) in enumerate([*funded, *candidates]):
            seq = state.seq + 1
            ts = f"2025-03-{1 + n * 7 // 24:02d}T{n * 7 % 24:02d}:{n % 60:02d}:00.000000Z"
            fields: dict[str, object] = {"type": kind, "seq": seq, "id": f"00000000-0000-7000-8000-{seq:012d}",
                                         "ts": ts, "prev": state.head}  # fmt: skip
            if kind == "drain":  # withdraw all of it, so that closes happen
                has = state.balances.get(account)
                if not has:
                    continue
                kind = fields["type"] = "withdrawn"
                amount = format_amount(has)
            if kind in ("deposited", "withdrawn", "transferred"):
                fields.update(account=account, amount=amount, to=to if kind == "transferred" else None)
            elif kind in ("account_opened", "account_closed"):
                fields["account"] = account
            elif kind == "reversed":
                original = events.get(target)
                if original is None or original.type not in ("deposited", "withdrawn", "transferred"):
                    continue
                source, dest = reversal_of(original)
                fields.update(target=target, account=source, to=dest, amount=original.amount)
            elif kind == "period_reopened":
                fields["memo"] = "late"
            if v1 and not kind.startswith("period"):
                fields["v"] = 1
            elif kind == "period_closed":  # an old day, so that most entries stay open
                fields["date"] = shift(ts[:10], -10 - back)
            elif kind == "period_reopened":
                fields["date"] = shift(state.closed_through or ts[:10], -back)
            else:
                fields["date"] = shift(ts[:10], -back)
            event = Event(**fields)  # type: ignore[arg-type]
            problem = check(state, event)
            refused = problem is not None
            if refused and (poison is None or n < len(funded) + poison or "2025-" not in str(problem)):
                continue
            data += seal_event(event)
            if refused:
                break
            evolve(state, event)
            events[seq] = event
    return data


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    candidates=st.lists(CANDIDATE, min_size=10, max_size=80),
    poison=st.one_of(st.none(), st.integers(min_value=0, max_value=15)),
)
def test_a_random_dated_history_folds_to_the_same_whole_state_with_and_without_the_extension(
    tmp_path: Path, candidates: list[tuple[str, str, str, str, int, bool, int]], poison: int | None
) -> None:
    path = tmp_path / "random-dated.jsonl"
    path.write_bytes(dated_history(candidates, poison))
    fast = [whole_outcome(path), verdict(path)]
    with python_path():
        slow = [whole_outcome(path), verdict(path)]
    assert fast == slow
