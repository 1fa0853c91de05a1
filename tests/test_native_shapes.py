"""The C extension on the shapes of issue 9 against the pure-Python path: reversals applied (and,
for verify, matched with their targets) natively, idempotency keys validated without being
collected, and memos and keys checked as UTF-8 without decoding them.

As in tests/test_native.py, every test compares the extension's outcome with the Python path's
on the same bytes: the books, the error (line and message), verify's report, history.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import accel, checkpoint
from ledger_cli.codec import canonical
from ledger_cli.config import ledger_at
from ledger_cli.domain import Deposit, Reverse, Transfer, Withdraw
from ledger_cli.errors import LedgerError
from ledger_cli.filelog import FileLog
from ledger_cli.money import amount_problem, money_context
from ledger_cli.store import check_lines
from ledger_cli.values import key_problem, memo_problem
from tests.helpers_log import GENESIS, seal_body
from tests.test_native import (
    HISTORIES,
    assert_same_histories,
    assert_same_reads,
    native_fold,
    outcome,
    python_path,
    verdict,
)  # fmt: skip

native = pytest.importorskip("ledger_cli._native", reason="the C extension is not built here")
if accel.native() is None:  # built, but off (LEDGER_CLI_NATIVE=0) or stale: nothing folds with it
    pytest.skip("the C extension is turned off or stale: nothing to compare", allow_module_level=True)

CHAINS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ACCOUNTS = ["acct", "bank:savings", "東京", "spare"]
RAW = "\ue000raw\ue000"  # a memo or key standing for raw bytes spliced into the line


def line_of(fields: dict[str, object], raw: bytes = b"") -> bytes:
    """The sealed line of `fields` (without hash); a memo or key RAW becomes the bytes `raw`."""
    body = canonical(fields).replace(canonical(RAW)[1:-1], raw)
    return seal_body(body)


def stamp(seq: int) -> str:
    return f"2025-01-01T{seq // 3600:02d}:{seq // 60 % 60:02d}:{seq % 60:02d}.000000Z"


def write_chain(path: Path, chain: list[dict[str, object]], raw: bytes = b"") -> bytes:
    """Seal `chain` (event contents) into a log at `path`, seq, id, ts and prev filled in."""
    prev, data = GENESIS, b""
    for seq, extra in enumerate(chain, start=1):
        fields = {"v": 1, "seq": seq, "id": f"00000000-0000-7000-8000-{seq:012d}", "ts": stamp(seq), "prev": prev}
        line = line_of({**fields, **extra}, raw)
        prev = line[-67:-3].decode()
        data += line
    path.write_bytes(data)
    return data


FUNDED: list[dict[str, object]] = [
    {"type": "deposited", "account": "acct", "amount": "1000"},
    {"type": "deposited", "account": "bank:savings", "amount": "1000"},
    {"type": "deposited", "account": "東京", "amount": "1000"},
    {"type": "account_opened", "account": "spare"},
]


def undo(original: dict[str, object]) -> tuple[object, object]:
    """domain.reversal_of on event contents: (account, to) of its reversal."""
    if original["type"] == "deposited":
        return original["account"], None
    if original["type"] == "withdrawn":
        return None, original["account"]
    if original["type"] == "transferred":
        return original.get("to"), original["account"]
    return original.get("account"), None  # not a movement: verify must refuse it


SAME_VALUE = {"1000": ["1000", "1000.00", "01000"], "5": ["5", "5.0", "5.000000000000000000"]}


@st.composite
def reversal_chains(draw: st.DrawFn) -> list[dict[str, object]]:
    """Funded accounts, then movements, opens, closes and reversals: mostly valid ones, and
    reversals with a wrong target (none, later, itself, already reversed, not a movement), the
    wrong accounts or amount, short funds, a closed or unknown account, or a bad shape."""
    chain = [dict(ev) for ev in FUNDED]
    amounts = st.sampled_from(["5", "1000", "0.25", "999.999", "2500", "5.0", "1e3"])
    for _ in range(draw(st.integers(1, 10))):
        seq = len(chain) + 1
        kind = draw(st.sampled_from(["deposited", "withdrawn", "transferred", "opened", "closed", *["reversed"] * 4]))
        ev: dict[str, object]
        if kind == "reversed":
            target = draw(st.integers(1, seq - 1))
            original = chain[target - 1]
            account, to = undo(original)
            amount = original.get("amount", "5")
            mode = draw(st.sampled_from(["match"] * 5 + ["target", "again", "accounts", "amount", "shape"]))
            if mode == "target":
                target = draw(st.sampled_from([0, -1, seq, seq + 1, 10**18, 10**19]))
            elif mode == "again":
                done = [ev["target"] for ev in chain if "target" in ev]
                target = draw(st.sampled_from(done)) if done else target
            elif mode == "accounts":
                account, to = draw(st.sampled_from([(to, account), (account, None), (None, to), (account, account)]))
                if draw(st.booleans()):
                    account = draw(st.sampled_from([*ACCOUNTS, "nobody", None]))
                else:
                    to = draw(st.sampled_from([*ACCOUNTS, "nobody", None]))
            elif mode == "amount":
                amount = draw(amounts)
            if isinstance(amount, str) and draw(st.booleans()):
                amount = draw(st.sampled_from(SAME_VALUE.get(amount, [amount])))  # the same value, other text
            ev = {"type": "reversed", "target": target, "amount": amount}
            ev.update({name: value for name, value in (("account", account), ("to", to)) if value is not None})
            if mode == "shape":
                ev.pop(draw(st.sampled_from(["amount", "target", "account", "to"])), None)
        elif kind in ("opened", "closed"):
            ev = {"type": f"account_{kind}", "account": draw(st.sampled_from(ACCOUNTS))}
        else:
            ev = {"type": kind, "account": draw(st.sampled_from(ACCOUNTS)), "amount": draw(amounts)}
            if kind == "transferred":
                ev["to"] = draw(st.sampled_from(ACCOUNTS))
        if draw(st.integers(0, 3)) == 0:
            ev["memo"] = draw(st.sampled_from(["m", "café – 日本 ✓", 'a "q" \\ b', "\u200b", "\u3000x"]))
        if draw(st.integers(0, 3)) == 0:
            ev["key"] = draw(st.sampled_from(["k1", "k2", "ключ", "\u3000", " "]))
        chain.append(ev)
    return chain


def assert_same_books_without_keys(path: Path) -> None:
    """A fold told that its caller never reads keys (verify's, `balance`'s) gives the books the
    Python path gives, and says its keys are incomplete."""
    got = fold_without_keys(path)
    with python_path():
        expected = fold_without_keys(path)
    if isinstance(expected, dict) and isinstance(got, dict):
        assert got["books"] == expected["books"]
        assert expected["keys complete"] is True  # the Python path collects keys anyway
        assert got["keys complete"] is False
    else:
        assert got == expected


def fold_without_keys(path: Path) -> object:
    log = FileLog(str(path), use_cache=False)
    fd = os.open(path, os.O_RDONLY)
    try:
        folded = log._fold(fd, use_cache=False, want_keys=False)
    except LedgerError as exc:  # compared: the same error on both paths
        return type(exc).__name__, str(exc)
    finally:
        os.close(fd)
    state = folded.state
    books = (state.seq, state.head, state.ts, state.balances, state.open, state.reversed_by)
    return {"books": books, "keys complete": folded.keys_complete}


# ---- 1. reversals ---------------------------------------------------------------------------


@CHAINS
@given(chain=reversal_chains())
def test_chains_with_reversals_read_and_verify_the_same_with_and_without_the_extension(
    tmp_path: Path, chain: list[dict[str, object]]
) -> None:
    path = tmp_path / "reversals.jsonl"
    write_chain(path, chain)
    assert_same_reads(path)
    assert_same_books_without_keys(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chain=reversal_chains())
def test_history_of_chains_with_reversals_is_the_same_with_and_without_the_extension(
    tmp_path: Path, chain: list[dict[str, object]]
) -> None:
    path = tmp_path / "history.jsonl"
    write_chain(path, chain)
    assert_same_histories(path, HISTORIES)


def reversal(target: object, **fields: object) -> dict[str, object]:
    return {"type": "reversed", "target": target, "amount": "5", **fields}


CASES = {
    "a deposit undone": [reversal(1, account="acct", amount="1000")],
    "a withdrawal put back": [{"type": "withdrawn", "account": "acct", "amount": "5"}, reversal(5, to="acct")],
    "a transfer undone": [
        {"type": "transferred", "account": "acct", "to": "東京", "amount": "5"},
        reversal(5, account="東京", to="acct", amount="5.00"),
    ],
    "no earlier event": [reversal(5, account="acct")],
    "target zero": [reversal(0, account="acct")],
    "a negative target": [reversal(-3, account="acct")],
    "a later target": [reversal(9, account="acct")],
    "twice": [reversal(1, account="acct", amount="1000"), reversal(1, account="acct", amount="1000")],
    "short funds": [{"type": "withdrawn", "account": "acct", "amount": "999"}, reversal(1, account="acct")],
    "a closed source": [
        {"type": "withdrawn", "account": "acct", "amount": "1000"},
        {"type": "account_closed", "account": "acct"},
        reversal(1, account="acct", amount="1000"),
    ],
    "money put back into a closed account": [
        {"type": "withdrawn", "account": "acct", "amount": "1000"},
        {"type": "account_closed", "account": "acct"},
        reversal(5, to="acct", amount="1000"),
    ],
    "a closed destination": [
        {"type": "account_closed", "account": "spare"},
        reversal(2, account="bank:savings", to="spare"),
    ],
    "an unknown destination": [reversal(1, account="acct", to="nobody")],
    "an unknown source": [reversal(1, account="nobody", to="acct")],
    "from an account to itself": [reversal(1, account="acct", to="acct")],
    "neither account": [reversal(1)],
    "no amount": [{"type": "reversed", "target": 1, "account": "acct"}],
    "no target": [{"type": "reversed", "amount": "5", "account": "acct"}],
    "a target on a deposit": [{"type": "deposited", "account": "acct", "amount": "5", "target": 1}],
    "of an open": [reversal(4, account="spare")],
    "of a close": [{"type": "account_closed", "account": "spare"}, reversal(5, to="acct")],
    "the wrong account": [reversal(1, account="bank:savings", amount="1000")],
    "the wrong amount": [reversal(1, account="acct", amount="999")],
    "the same amount written otherwise": [reversal(1, account="acct", amount="1000.000")],
    "a target with an escaped memo": [
        {"type": "deposited", "account": "acct", "amount": "5", "memo": 'say "hi"'},
        reversal(5, account="acct", memo="back \\ again", key="r1"),
    ],
    "a mismatch after a match": [
        {"type": "withdrawn", "account": "acct", "amount": "5"},
        reversal(5, to="acct"),
        reversal(2, account="acct", amount="1000"),
    ],
}


@pytest.mark.parametrize("events", list(CASES.values()), ids=list(CASES))
def test_each_kind_of_reversal_reads_and_verifies_the_same_with_and_without_the_extension(
    tmp_path: Path, events: list[dict[str, object]]
) -> None:
    path = tmp_path / "case.jsonl"
    write_chain(path, [*FUNDED, *events])
    assert_same_reads(path)
    assert_same_books_without_keys(path)
    assert_same_histories(path, [["acct"], ["spare"], ["--last", "1"]])


def test_verify_names_a_reversal_that_does_not_undo_its_target(tmp_path: Path) -> None:
    path = tmp_path / "mismatch.jsonl"
    lines = write_chain(path, [*FUNDED, *CASES["a mismatch after a match"]]).splitlines()
    problem = "line 7: does not undo event 2: accounts or amount differ"
    assert verdict(path) == (False, 6, json.loads(lines[5])["hash"], [problem])


def single(line: bytes, reversed_by: dict[int, int] | None) -> tuple[int, dict[str, object]]:
    """Fold one line on top of funded books with the extension: (code, the dicts after it)."""
    native.clear_caches()
    balances = {"acct": Decimal("1000"), "spare": Decimal(0)}
    opened = {"acct": True, "spare": True}
    keys: dict[str, int] = {}
    token = object()
    with money_context():
        code = native_fold(
            line, 0, 4, GENESIS, stamp(4), balances, opened, keys, -1, None, token, None, None, reversed_by
        )[0]
        native.sync(token)
    return code, {"balances": balances, "opened": opened, "keys": keys, "reversed_by": reversed_by}


def a_reversal(**fields: object) -> bytes:
    base = {"v": 1, "seq": 5, "id": "00000000-0000-7000-8000-000000000005", "ts": stamp(5), "prev": GENESIS}
    return line_of({**base, "type": "reversed", "target": 1, "amount": "5", **fields})


def test_the_extension_applies_a_reversal_only_when_given_reversed_by() -> None:
    line = a_reversal(account="acct", to="spare", key="r")
    assert single(line, None)[0] == 1  # handed to Python, as before
    code, after = single(line, {})
    assert code == 0
    assert after == {
        "balances": {"acct": Decimal("995"), "spare": Decimal("5")},
        "opened": {"acct": True, "spare": True},
        "keys": {"r": 5},
        "reversed_by": {1: 5},
    }
    assert single(line, {1: 3})[0] == 1  # already reversed: Python names it


def test_a_reversal_the_extension_cannot_match_is_listed_for_verify(tmp_path: Path) -> None:
    """Matched against its target read from the file: a match is vouched for, anything else is
    listed (where its line starts) for verify to check in Python."""
    path = tmp_path / "listed.jsonl"
    data = write_chain(path, [*FUNDED, reversal(1, account="acct", amount="1000.0"), reversal(4, to="spare")])
    fd = os.open(path, os.O_RDONLY)
    try:
        native.clear_caches()
        listed: list[int] = []
        with money_context():
            code = native_fold(
                data, 0, 0, GENESIS, "", {}, {}, {}, -1, None, object(), None, None, {}, listed, fd, 0
            )[0]  # fmt: skip
    finally:
        os.close(fd)
    assert code == 0
    assert listed == [data.index(b'{"amount":"5"')]  # the reversal of the open (seq 4), not of the deposit


def test_a_fold_for_verify_hands_on_only_the_reversals_it_could_not_match(tmp_path: Path) -> None:
    path = tmp_path / "verify.jsonl"
    chain = [
        *FUNDED,
        {"type": "transferred", "account": "acct", "to": "東京", "amount": "5"},
        reversal(5, account="東京", to="acct", amount="5.00"),
        {"type": "withdrawn", "account": "acct", "amount": "5"},
        reversal(7, to="acct"),
        reversal(2, account="acct", amount="1000"),
    ]
    write_chain(path, chain)
    seen: list[int] = []
    log = FileLog(str(path), use_cache=False)
    fd = os.open(path, os.O_RDONLY)
    try:
        folded = log._fold(fd, use_cache=False, on_block=lambda evs: seen.extend(ev.seq for ev in evs))
    finally:
        os.close(fd)
    assert folded.state.reversed_by == {5: 6, 7: 8, 2: 9}
    assert seen == [9]  # the one that reverses a deposit into another account


# ---- 2. keys only when wanted -----------------------------------------------------------------


KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["", " ", "k" * 200, "k" * 201, "é" * 200, "é" * 201, "\x7f"]))


@settings(max_examples=300, deadline=None)
@given(key=KEYS)
def test_a_key_is_validated_the_same_whether_or_not_keys_are_collected(key: str) -> None:
    base = {"v": 1, "seq": 5, "id": "00000000-0000-7000-8000-000000000005", "ts": stamp(5), "prev": GENESIS}
    try:
        line = line_of({**base, "type": "deposited", "account": "acct", "amount": "5", "key": key})
    except UnicodeEncodeError:
        return
    valid = key_problem(key) is None
    for keys in ({}, None):
        native.clear_caches()
        with money_context():
            code = native_fold(line, 0, 4, GENESIS, stamp(4), {}, {}, keys, -1, None, object())[0]
        assert (code == 0) == valid, (key, keys)
        assert keys in (None, {key: 5} if valid else {})


def keyed_log(path: Path, count: int) -> dict[str, int]:
    chain: list[dict[str, object]] = [{"type": "deposited", "account": "acct", "amount": "100", "key": "k0"}]
    for n in range(1, count):
        ev: dict[str, object] = {"type": "withdrawn", "account": "acct", "amount": "0.01", "key": f'k"{n}'}
        if n % 7 == 0:  # an amount too big for the extension's integers: Python's line, and key
            ev = {"type": "deposited", "account": "big", "amount": "1" * 25, "key": f"big-{n}"}
        chain.append(ev)
    write_chain(path, chain)
    return {str(ev["key"]): seq for seq, ev in enumerate(chain, start=1)}


def folded_keys(path: Path, **options: object) -> tuple[bool, dict[str, int]]:
    log = FileLog(str(path), use_cache=bool(options.pop("use_cache", False)))
    fd = os.open(path, os.O_RDONLY)
    try:
        folded = log._fold(fd, **options)  # type: ignore[arg-type]
    finally:
        os.close(fd)
    return folded.keys_complete, folded.state.keys


def test_a_fold_that_never_needs_keys_does_not_collect_them_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "keys.jsonl"
    keys = keyed_log(path, 300)
    complete, got = folded_keys(path, use_cache=False, want_keys=False)
    assert not complete
    assert got == {key: seq for key, seq in keys.items() if key.startswith("big")}  # of the lines Python read
    assert folded_keys(path, use_cache=False) == (True, keys)  # by default: every key, as before
    assert folded_keys(path, use_cache=False, want_keys=False, need_keys=True) == (True, keys)
    with python_path():
        assert folded_keys(path, use_cache=False, want_keys=False) == (True, keys)
    assert not Path(checkpoint.folder(str(path))).exists()


def test_a_caching_fold_collects_every_key_for_its_checkpoint_even_if_its_caller_needs_none(tmp_path: Path) -> None:
    path = tmp_path / "cached.jsonl"
    keys = keyed_log(path, checkpoint.HEAD_REFRESH + 50)
    assert folded_keys(path, use_cache=True, want_keys=False) == (True, keys)
    head = json.loads((Path(checkpoint.folder(str(path))) / "head.json").read_text())
    assert head["keys"] == keys
    assert folded_keys(path, use_cache=True, need_keys=True) == (True, keys)  # from the checkpoint


def test_writes_and_keyed_retries_see_every_key_on_an_uncached_log(tmp_path: Path) -> None:
    path = tmp_path / "writes.jsonl"
    keyed_log(path, 40)
    book = ledger_at(path, use_cache=False)
    event, new = book.execute(Withdraw("acct", Decimal("0.01"), None, 'k"3'))
    assert (event.seq, new) == (4, False)  # a retry of event 4's key: nothing written
    event, new = book.execute(Deposit("acct", Decimal("1"), None, "fresh"))
    assert new and event.seq == 41
    assert book.log.by_key('k"39') is not None and book.log.by_key("big-35") is not None
    assert_same_reads(path)


# ---- 3. memos and keys as UTF-8 -------------------------------------------------------------


TEXTS = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0x80), max_size=12),
    st.lists(
        st.sampled_from(["é", "日本", "✓", "😀", "\u00a0", "\u3000", "\u200b", "\u2028", "\ue000", "\U000e0001"])
    ).map("".join),
    st.sampled_from(["é" * 1000, "é" * 1001, "😀" * 1000, "😀" * 1001, "😀" * 200, "😀" * 201, "\u3000" * 1000]),
)


@settings(max_examples=500, deadline=None)
@given(text=TEXTS)
def test_a_non_ascii_memo_or_key_gets_the_python_verdict(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates cannot be written to a log at all
        return
    assert native.text_ok("memo", text) == (memo_problem(text) is None), repr(text[:20])
    assert native.text_ok("key", text) == (key_problem(text) is None), repr(text[:20])


# Byte sequences that are not UTF-8 (strict): overlong forms, encoded surrogates, past U+10FFFF,
# bytes that start no sequence, truncated sequences; and some that are.
NOT_UTF8 = [
    b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xb0\x80x", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xfe",
    b"\x80", b"\xbf", b"\xe6\x97", b"\xe6", b"\xf0\x9f\x98", b"a\xc3", b"\xc3(", b"\xe2\x28\xa1",
    b"\xc1\x81", b"\xc0\xaf", b"\xe0\x81\x81", b"\xf0\x82\x82\xac",  # overlong forms of printable A / €
]  # fmt: skip
UTF8 = [b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xf0\x90\x80\x80",
        b"\xf4\x8f\xbf\xbf", b"\xe6\x97\xa5", b"caf\xc3\xa9", b"\xc2\xa0", b"\xe2\x80\x8b"]  # fmt: skip
RAW_TEXT = st.one_of(
    st.sampled_from(NOT_UTF8 + UTF8),
    st.lists(st.sampled_from([*NOT_UTF8, *UTF8, b"a", b" "]), max_size=4).map(b"".join),
    st.binary(max_size=8),
)


def a_deposit(field: str, raw: bytes) -> bytes:
    base = {"v": 1, "seq": 1, "id": "00000000-0000-7000-8000-000000000001", "ts": stamp(1), "prev": GENESIS}
    return line_of({**base, "type": "deposited", "account": "acct", "amount": "5", field: RAW}, raw)


def python_accepts(line: bytes) -> bool:
    try:
        ev, _ = next(check_lines(line, 0, GENESIS, ""))
    except LedgerError:
        return False
    return ev.seq == 1


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from(["memo", "key"]), raw=RAW_TEXT)
def test_a_memo_or_key_of_raw_bytes_is_applied_only_if_python_accepts_it(field: str, raw: bytes) -> None:
    line = a_deposit(field, raw)
    native.clear_caches()
    with money_context():
        code = native_fold(line, 0, 0, GENESIS, "", {}, {}, {}, -1, None, object())[0]
    assert (code == 0) == python_accepts(line), raw
    if code == 0:  # then it is valid UTF-8, and the rules of values accept its text
        text = raw.decode()
        assert (memo_problem if field == "memo" else key_problem)(text) is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["memo", "key"]), raw=RAW_TEXT, where=st.integers(0, 5))
def test_a_log_with_raw_bytes_in_a_memo_or_key_reads_the_same_with_and_without_the_extension(
    tmp_path: Path, field: str, raw: bytes, where: int
) -> None:
    chain: list[dict[str, object]] = [{"type": "deposited", "account": "acct", "amount": "10"} for _ in range(6)]
    chain[where][field] = RAW
    path = tmp_path / "raw.jsonl"
    write_chain(path, chain, raw)
    assert_same_reads(path)


@pytest.mark.parametrize("raw", NOT_UTF8, ids=[r.hex() for r in NOT_UTF8])
def test_a_memo_that_is_not_utf8_is_named_as_the_python_reader_names_it(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "bad.jsonl"
    write_chain(path, [{"type": "deposited", "account": "acct", "amount": "10"}, {**FUNDED[0], "memo": RAW}], raw)
    got = outcome(path)
    assert isinstance(got, tuple) and got[0] == "LogCorrupt" and str(got[1]).startswith("line 2: ")
    assert_same_reads(path)


# ---- all three together ---------------------------------------------------------------------


@st.composite
def mixed_chains(draw: st.DrawFn) -> tuple[list[dict[str, object]], bytes]:
    chain = draw(reversal_chains())
    raw = draw(RAW_TEXT)
    for ev in chain[len(FUNDED) :]:
        if draw(st.integers(0, 2)) == 0:
            ev["memo"] = draw(st.sampled_from([RAW, "café – 日本 ✓ ünïcødé", "\U0001f600" * 3, "x\u00a0y"]))
        if draw(st.integers(0, 2)) == 0:
            ev["key"] = draw(st.sampled_from([RAW, f"k-{len(ev)}", "ключ-✓", "\U0001f511"]))
    return chain, raw


@CHAINS
@given(case=mixed_chains())
def test_chains_with_reversals_keys_and_unicode_read_the_same_with_and_without_the_extension(
    tmp_path: Path, case: tuple[list[dict[str, object]], bytes]
) -> None:
    chain, raw = case
    path = tmp_path / "mixed.jsonl"
    write_chain(path, chain, raw)
    assert_same_reads(path)
    assert_same_books_without_keys(path)


def test_a_big_log_of_every_shape_reads_the_same_with_and_without_the_extension(tmp_path: Path) -> None:
    """Long enough for many blocks and checkpoints: reversals of movements far behind, keys on
    every event, every memo non-ASCII; read cold, then from the checkpoints it left."""
    path = tmp_path / "big.jsonl"
    book = ledger_at(path, use_cache=False)
    commands = iter_commands(4000)
    with money_context():
        book.import_commands(commands)
    targets = list(range(2, 3900, 97))
    for n, target in enumerate(targets):
        book.execute(Reverse(target, f"zurück № {n}", f"rev-{n}"))
    assert len(book.state().reversed_by) == len(targets)
    assert_same_reads(path)
    assert verdict(path)[:2] == (True, 4000 + len(targets))
    cached = ledger_at(path)
    assert cached.state() == ledger_at(path, use_cache=False).state()  # builds the checkpoints
    assert cached.state() == ledger_at(path, use_cache=False).state()  # from them


def iter_commands(count: int) -> Iterator[tuple[int, Deposit | Withdraw | Transfer]]:
    names = ["acct", "bank:savings", "東京", "ünï:cødé"]
    for n in range(count):
        name = names[n % 4]
        memo = f"café – 日本 ✓ {n} ünïcødé"
        if n < 8 or n % 3 == 0:
            yield n + 1, Deposit(name, Decimal("100.5"), memo, f"key-{n}")
        elif n % 3 == 1:
            yield n + 1, Withdraw(name, Decimal("1.25"), memo, f"key-{n}")
        else:
            yield n + 1, Transfer(name, names[(n + 1) % 4], Decimal("0.75"), memo, f"ключ-{n}")


def test_amount_texts_of_the_same_value_match_in_verify(tmp_path: Path) -> None:
    assert amount_problem("5.000000000000000000") is None
    path = tmp_path / "amounts.jsonl"
    write_chain(path, [*FUNDED, {"type": "withdrawn", "account": "acct", "amount": "5"}, reversal(5, to="acct",
                amount="5.000000000000000000")])  # fmt: skip
    assert verdict(path)[:2] == (True, 6)
    assert_same_reads(path)
