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
    block: bytes, pos: int, seq: int, head: str, ts: str, balances: dict, opened: dict, keys: dict | None,
    stop: int, bound_ts: str | None, token: object, starts: list | None = None, only: str | None = None,
    reversed_by: dict | None = None, reversals: list | None = None, fd: int = -1, offset: int = 0,
    days: dict | None = None, last_day: dict | None = None, status: dict | None = None,
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
