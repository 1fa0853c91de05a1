"""The log line codec: both decoders agree on every line, and the hash is the contract's recipe.

codec.decode_line (stdlib json) and fastcodec.decode_line (msgspec) must accept exactly the
same lines; a third-party verifier written from contract section 2 alone must accept the
logs the service writes.
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli import codec, events, fastcodec
from ledger_cli.codec import seal
from ledger_cli.config import ledger_at
from ledger_cli.domain import Close, Deposit, Open, Reverse, Transfer, Withdraw
from ledger_cli.errors import InvalidValue, LogCorrupt
from ledger_cli.events import Event
from ledger_cli.service import Ledger
from ledger_cli.values import parse_account, parse_memo
from tests.conftest import Runner

GENESIS = "0" * 64


def recipe(obj: dict[str, Any]) -> bytes:
    """Contract section 2, as a third party would write it."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def third_party_verify(path: Path) -> str | None:
    """Ten lines of any language: re-serialise without "hash", sha256, compare, follow prev."""
    prev = GENESIS
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        obj = json.loads(raw)
        claimed = obj.pop("hash")
        if obj["seq"] != number or obj["prev"] != prev:
            return f"line {number}: seq or prev is wrong"
        if hashlib.sha256(recipe(obj)).hexdigest() != claimed:
            return f"line {number}: hash mismatch"
        prev = claimed
    return None


def line_for(body: bytes) -> bytes:
    """A line (without newline) whose trailing hash matches `body`, whatever `body` holds."""
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}'


def verdict(decode: Any, line: bytes) -> tuple[str, dict[str, Any] | None]:
    """("ok", fields) or ("corrupt", None); any other exception escapes and fails the test."""
    try:
        ev = decode(line, 1)
    except LogCorrupt as exc:
        assert exc.line == 1
        return "corrupt", None
    return "ok", {name: getattr(ev, name) for name in (*events.FIELDS, "hash")}


def assert_decoders_agree(line: bytes) -> str:
    slow = verdict(codec.decode_line, line)
    fast = verdict(fastcodec.decode_line, line)
    assert slow == fast, line
    return slow[0]


# ---- valid lines ----------------------------------------------------------------------------------

texts = st.text(max_size=12)  # any code point but surrogates: the decoders do not judge values
ints = st.integers(-(2**70), 2**70)


@st.composite
def event_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """An event's fields (not necessarily valid values: the codec must agree on any)."""
    body: dict[str, Any] = {
        "v": draw(st.sampled_from([1, 1, 1, 2, 0])),
        "seq": draw(st.one_of(st.integers(1, 10**6), ints)),
        "id": draw(st.one_of(st.uuids().map(str), texts)),
        "ts": draw(st.one_of(st.just("2026-01-01T00:00:00.000000Z"), texts)),
        "type": draw(st.sampled_from(sorted(events.EVENT_TYPES))),
        "prev": draw(st.one_of(st.just(GENESIS), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))),
    }
    for name, values in (("account", texts), ("to", texts), ("amount", texts), ("memo", texts), ("key", texts),
                         ("target", ints)):  # fmt: skip
        if draw(st.booleans()):
            body[name] = draw(values)
    return body


def sealed(body: dict[str, Any]) -> bytes:
    return seal(Event(**body))[:-1]


@settings(max_examples=300, deadline=None)
@given(event_bodies())
def test_decoders_accept_every_sealed_line_with_the_same_fields(body: dict[str, Any]) -> None:
    line = sealed(body)
    assert assert_decoders_agree(line) == "ok"
    ev = codec.decode_line(line, 1)
    assert ev.body() == body
    assert ev.hash == hashlib.sha256(recipe(body)).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=10), ints), max_size=8))
def test_canonical_is_the_contract_recipe(obj: dict[str, Any]) -> None:
    assert codec.canonical(obj) == recipe(obj)


@settings(max_examples=200, deadline=None)
@given(event_bodies())
def test_line_is_the_recipe_with_the_hash_spliced_in(body: dict[str, Any]) -> None:
    line = sealed(body)
    obj = json.loads(line)
    claimed = obj.pop("hash")
    assert obj == body
    assert line == recipe(obj)[:-1] + b',"hash":"' + claimed.encode() + b'"}'
    assert claimed == hashlib.sha256(recipe(obj)).hexdigest()


# ---- mutated lines ------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(event_bodies(), st.data())
def test_decoders_agree_on_byte_flips(body: dict[str, Any], data: st.DataObject) -> None:
    line = bytearray(sealed(body))
    position = data.draw(st.integers(0, len(line) - 1))
    line[position] = data.draw(st.integers(0, 255).filter(lambda b: b != line[position]))
    assert assert_decoders_agree(bytes(line)) == "corrupt"  # the hash no longer matches, or the frame broke
    rehashed = bytearray(recipe(body))
    position = data.draw(st.integers(0, len(rehashed) - 1))
    rehashed[position] = data.draw(st.integers(0, 255))
    assert_decoders_agree(line_for(bytes(rehashed)))  # with a matching hash: still the same verdict


def _pairs(body: dict[str, Any]) -> list[str]:
    return [json.dumps(name, ensure_ascii=False) + ":" + json.dumps(body[name], ensure_ascii=False)
            for name in sorted(body)]  # fmt: skip


def _join(pairs: list[str]) -> bytes:
    return ("{" + ",".join(pairs) + "}").encode()


MUTATIONS = ["duplicate", "whitespace", "reorder", "number-as-string", "string-as-number", "nan", "unknown",
             "hash-inside", "hash-inside-only", "escape", "null", "bool", "float", "nested"]  # fmt: skip


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(event_bodies(), st.sampled_from(MUTATIONS), st.randoms(use_true_random=False))
def test_decoders_agree_on_mutated_lines(body: dict[str, Any], mutation: str, rnd: random.Random) -> None:
    pairs = _pairs(body)
    names = sorted(body)
    index = rnd.randrange(len(pairs))
    name = names[index]
    if mutation == "duplicate":
        pairs.insert(rnd.randrange(len(pairs) + 1), pairs[index])
    elif mutation == "whitespace":
        pairs[index] = pairs[index].replace(":", rnd.choice([": ", " :", ":\t", ":\r"]), 1)
    elif mutation == "reorder":
        if len(pairs) < 2:
            return
        pairs[index], pairs[index - 1] = pairs[index - 1], pairs[index]
    elif mutation == "number-as-string":
        numeric = [n for n in names if isinstance(body[n], int)]
        name = rnd.choice(numeric)
        pairs[names.index(name)] = f'"{name}":"{body[name]}"'
    elif mutation == "string-as-number":
        name = rnd.choice([n for n in names if isinstance(body[n], str)])
        pairs[names.index(name)] = f'"{name}":{rnd.choice(["50", "12.30", "-1", "0"])}'
    elif mutation == "nan":
        pairs[index] = f'"{name}":{rnd.choice(["NaN", "Infinity", "-Infinity"])}'
    elif mutation == "unknown":
        extra = rnd.choice(["extra", "bal", "hashes", "Seq", "tz"])
        pairs.append(f'"{extra}":{rnd.choice(["1", chr(34) + "x" + chr(34)])}')
        pairs.sort()
    elif mutation in ("hash-inside", "hash-inside-only"):
        digest = hashlib.sha256(_join(pairs)).hexdigest()
        pairs.append(f'"hash":"{digest}"')
        pairs.sort()
        if mutation == "hash-inside-only":
            assert assert_decoders_agree(_join(pairs)) == "corrupt"
            return
    elif mutation == "escape":
        pairs[index] = '"\\u' + f"{ord(name[0]):04x}" + pairs[index][2:]
    elif mutation == "null":
        pairs[index] = f'"{name}":null'
    elif mutation == "bool":
        pairs[index] = f'"{name}":{rnd.choice(["true", "false"])}'
    elif mutation == "float":
        pairs[index] = f'"{name}":{rnd.choice(["1.0", "1e0", "1E2", "-0.0", "-0"])}'
    else:
        pairs[index] = f'"{name}":{rnd.choice(["[1]", "{}", "[]"])}'
    assert assert_decoders_agree(line_for(_join(pairs))) == "corrupt"


GOOD = {"account": "a", "id": "00000000-0000-4000-8000-000000000001", "prev": GENESIS, "seq": 1,
        "ts": "2026-01-01T00:00:00.000000Z", "type": "account_opened", "v": 1}  # fmt: skip


def _with(raw_pair: str) -> bytes:
    """GOOD plus one pair written verbatim (sorted in place), with a matching trailing hash."""
    pairs = sorted([*_pairs(GOOD), raw_pair])
    return line_for(_join(pairs))


ODD_LINES = [
    pytest.param(_with('"memo":"\\ud800"'), id="lone-high-surrogate-escape"),
    pytest.param(_with('"memo":"\\udc00x"'), id="lone-low-surrogate-escape"),
    pytest.param(_with('"memo":"\\ud83d\\ude00"'), id="surrogate-pair-escape"),
    pytest.param(_with('"memo":"\\u00e9"'), id="escaped-non-ascii"),
    pytest.param(_with('"memo":"\\/"'), id="escaped-slash"),
    pytest.param(_with('"memo":"\\u001f"'), id="control-escape-json-dumps-form"),
    pytest.param(_with('"memo":"\\u001F"'), id="control-escape-uppercase-hex"),
    pytest.param(_with('"memo":"\x7f"'), id="raw-delete"),
    pytest.param(_with('"memo":"\u2028"'), id="raw-line-separator"),
    pytest.param(_with('"target":123456789012345678901234567890'), id="integer-beyond-64-bits"),
    pytest.param(_with('"target":-9223372036854775809'), id="integer-below-int64"),
    pytest.param(line_for(recipe(GOOD)) + b" ", id="trailing-space"),
    pytest.param(b" " + line_for(recipe(GOOD)), id="leading-space"),
    pytest.param(line_for(b"[1]"), id="array"),
    pytest.param(line_for(b'"x"'), id="string"),
    pytest.param(line_for(b"{}"), id="empty-object"),
    pytest.param(b"", id="empty-line"),
    pytest.param(b'{"hash":"' + b"0" * 64 + b'"}', id="hash-only"),
    pytest.param(line_for(recipe(GOOD)).upper(), id="upper-case"),
    pytest.param(line_for(recipe(GOOD)).replace(b'"hash":"', b'"hash": "'), id="space-before-hash"),
    pytest.param(line_for(recipe(GOOD))[:-2] + b'"\x00}', id="nul-in-suffix"),
    pytest.param(line_for(recipe(GOOD) + b"\xff"), id="invalid-utf8-after-object"),
    pytest.param(line_for(recipe({**GOOD, "memo": "é"}).replace("é".encode(), b"\xc3")), id="truncated-utf8"),
    pytest.param(line_for(recipe({**GOOD, "memo": "x"}).replace(b"x", b"\xed\xa0\x80")), id="utf8-encoded-surrogate"),
]


@pytest.mark.parametrize("line", ODD_LINES)
def test_decoders_agree_on_odd_lines(line: bytes) -> None:
    assert_decoders_agree(line)


def test_the_sample_event_itself_is_accepted_by_both() -> None:
    assert assert_decoders_agree(line_for(recipe(GOOD))) == "ok"


@settings(max_examples=300, deadline=None)
@given(
    event_bodies(),
    st.sampled_from(["memo", "account", "key"]),
    st.sampled_from(
        [
            "\\ud800",
            "\\udfff",
            "\\udbff\\udfff",
            "\\ud83d\\ude00",
            "\\ude00\\ud83d",
            "\\u0000",
            "\\u00e9",
            "\\u00E9",
            "\\\\",
            '\\"',
            "\\n",
            "\\u000a",
            "\\t",
            "\\/",
        ]
    ),
)
def test_decoders_agree_on_escapes_in_text_fields(body: dict[str, Any], name: str, escape: str) -> None:
    body = dict(body)
    body[name] = "x"
    pairs = _pairs(body)
    where = sorted(body).index(name)
    pairs[where] = pairs[where].replace('"x"', '"' + escape + '"')
    assert_decoders_agree(line_for(_join(pairs)))


# ---- logs written by the service, checked by a third party ---------------------------------------


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def clock(self) -> str:
        self.n += 1
        return f"2026-03-01T00:00:{self.n % 60:02d}.{self.n:06d}Z"

    def new_id(self) -> str:
        return f"00000000-0000-4000-8000-{self.n:012x}"


def write_sample_log(path: Path, account: str, memo: str) -> Ledger:
    counter = Counter()
    ledger = ledger_at(path, clock=counter.clock, new_id=counter.new_id)
    for command in (
        Open("資産:銀行", memo="開設"), Deposit(account, Decimal("50.25"), memo=memo),
        Transfer(account, "ünï:çödé", Decimal("0.25"), memo="→ savings", key="clé-1"),
        Withdraw(account, Decimal("10"), memo="café ☕"), Reverse(3, memo="zurück"),
        Deposit("ünï:çödé", Decimal("1")), Withdraw("ünï:çödé", Decimal("1")), Close("ünï:çödé", memo="👋"),
    ):  # fmt: skip
        ledger.execute(command)
    return ledger


def test_third_party_verifier_accepts_a_service_log_with_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_sample_log(path, "épargne:eŭro", "loyer — février ☕ 🏠")
    raw = path.read_bytes()
    assert "épargne:eŭro".encode() in raw and "🏠".encode() in raw  # UTF-8 kept, not \u-escaped
    assert b"\\u" not in raw
    assert third_party_verify(path) is None
    assert len(raw.splitlines()) == 8


def test_third_party_verifier_rejects_a_tampered_service_log(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = write_sample_log(path, "épargne", "loyer")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"50.25"', b'"90.25"')
    path.write_bytes(b"".join(lines))
    assert third_party_verify(path) == "line 2: hash mismatch"
    assert not ledger.verify().ok


def test_third_party_verifier_agrees_with_the_head_the_service_reports(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = write_sample_log(path, "a", "m")
    report = ledger.verify()
    last = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    assert report.ok and report.events == 8
    assert report.head == last["hash"] == ledger.state().head


def _valid(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except InvalidValue:
        return False
    return True


# Random text is rarely a valid account name: the filter is the point (any valid one), so
# Hypothesis is told that discarding many is expected.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    st.text(min_size=1, max_size=20).filter(lambda t: _valid(parse_account, t)),
    st.text(min_size=1, max_size=40).filter(lambda t: _valid(parse_memo, t)),
)
def test_third_party_verifier_accepts_any_valid_names_and_memos(account: str, memo: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.jsonl"
        write_sample_log(path, parse_account(account), memo)
        assert third_party_verify(path) is None
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            assert assert_decoders_agree(raw) == "ok"
            assert events.event_problem(codec.decode_line(raw, number)) is None


def test_third_party_verifier_accepts_a_log_written_through_the_cli(ledger: Runner) -> None:
    for args in (
        ("open", "naïve"),
        ("deposit", "naïve", "12.30", "-m", "première ☕"),
        ("transfer", "naïve", "日本", "2.30", "-k", "k-1"),
        ("withdraw", "日本", "1"),
        ("reverse", "4"),
    ):
        result = ledger(*args)
        assert result.code == 0, (args, result.stderr)
    assert third_party_verify(ledger.log) is None
    assert len(ledger.lines()) == 5
