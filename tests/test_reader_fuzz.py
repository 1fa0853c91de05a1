"""Fuzzing the log reader (issue 3): random bytes and mutations of a valid log.

Whatever is in the file, reading it either fails with a LedgerError (exit 3 on the command
line) or accepts exactly a prefix of the original history, never a different one; a mutation
may only be accepted when it left the original lines alone (a torn tail is ignored).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_cli.config import ledger_at
from ledger_cli.domain import Close, Deposit, Open, Reverse, State, Transfer, Withdraw
from ledger_cli.errors import LedgerError
from ledger_cli.events import SCHEMA_VERSION
from tests.conftest import Runner
from tests.helpers_log import GENESIS, seal

COUNTS = dict.fromkeys(
    ["mutations", "mutations accepted as a prefix", "random files", "sealed chains", "chains accepted", "cli runs"], 0
)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ledger-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    print(f"\nreader fuzz: {COUNTS}")


@pytest.fixture(scope="module")
def original(workdir: Path) -> tuple[bytes, list[bytes], list[State]]:
    """A valid log of every event type, its lines, and the state after each prefix of it."""
    path = workdir / "original.jsonl"
    book = ledger_at(path, use_cache=False)
    for command in (
        Deposit("acct", Decimal("100.50"), "café ✓", "k1"),
        Open("spare"),
        Withdraw("acct", Decimal("0.50")),
        Transfer("acct", "bank:savings", Decimal("40"), None, "k2"),
        Reverse(4, "oops"),
        Close("spare"),
        Deposit("東京", Decimal("0.000000000000000001")),
    ):
        book.execute(command)
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    states = []
    for n in range(len(lines) + 1):
        prefix = workdir / f"prefix-{n}.jsonl"
        prefix.write_bytes(b"".join(lines[:n]))
        states.append(ledger_at(prefix, use_cache=False).state())
    return data, lines, states


def _check_reader(path: Path, data: bytes, lines: list[bytes], states: list[State]) -> bool:
    """The reader either refuses `data` with a LedgerError or accepts a prefix of `lines`."""
    path.write_bytes(data)
    shutil.rmtree(path.with_name(path.name + ".cache"), ignore_errors=True)
    try:
        report = ledger_at(path).verify()
    except LedgerError:
        report = None
    try:
        state = ledger_at(path).state()
    except LedgerError:
        state = None
    if report is None or not report.ok:
        assert report is None or (report.problems and "line " in report.problems[0])
        assert state is None, "state() folded a log that verify refused"
        return False
    accepted = b"".join(lines[: report.events])
    assert report.events <= len(lines)
    assert data.startswith(accepted), "verify accepted lines that are not the original ones"
    assert b"\n" not in data[len(accepted) :], "verify stopped before a complete line"
    assert state == states[report.events]
    assert report.head == (states[report.events].head if report.events else GENESIS)
    return True


def _mutate(data: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    for kind, a, b, extra in ops:
        size = max(len(data), 1)
        i = a % size
        lines = data.splitlines(keepends=True)
        if kind == "flip" and data:
            data = data[:i] + bytes([data[i] ^ (1 << (b % 8))]) + data[i + 1 :]
        elif kind == "insert":
            data = data[:i] + extra + data[i:]
        elif kind == "delete":
            data = data[:i] + data[i + 1 + b % 64 :]
        elif kind == "truncate":
            data = data[:i]
        elif kind == "swap" and len(lines) > 1:
            j, k = a % len(lines), b % len(lines)
            lines[j], lines[k] = lines[k], lines[j]
            data = b"".join(lines)
        elif kind == "drop line" and lines:
            del lines[a % len(lines)]
            data = b"".join(lines)
        elif kind == "duplicate line" and lines:
            lines.insert(b % (len(lines) + 1), lines[a % len(lines)])
            data = b"".join(lines)
    return data


OPS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "delete", "truncate", "swap", "drop line", "duplicate line"]),
        st.integers(0, 1 << 16),
        st.integers(0, 1 << 16),
        st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from([b"\n", b"\0", b"{", b'"', b"0", b"\\u0041"])),
    ),
    min_size=1,
    max_size=4,
)


@FUZZ
@given(ops=OPS)
def test_mutated_log_is_refused_or_read_as_an_unchanged_prefix_of_the_original(
    workdir: Path, original: tuple[bytes, list[bytes], list[State]], ops: list[tuple[str, int, int, bytes]]
) -> None:
    data, lines, states = original
    COUNTS["mutations"] += 1
    if _check_reader(workdir / "mutated.jsonl", _mutate(data, ops), lines, states):
        COUNTS["mutations accepted as a prefix"] += 1


@FUZZ
@given(junk=st.one_of(st.binary(max_size=600), st.binary(max_size=300).map(lambda b: b"{" + b)))
def test_random_bytes_are_refused_or_read_as_an_empty_ledger(
    workdir: Path, original: tuple[bytes, list[bytes], list[State]], junk: bytes
) -> None:
    COUNTS["random files"] += 1
    _check_reader(workdir / "random.jsonl", junk, [], [State()])
    _, lines, states = original
    _check_reader(workdir / "random-tail.jsonl", b"".join(lines) + junk, lines, states)


NAMES = st.sampled_from(["acct", "bank:savings", "東京"])
ODD_TEXT = st.one_of(st.sampled_from(["", "a b", "-x", ":", "a::b", "e\u0301"]), st.text(max_size=6))
ODD_AMOUNT = st.sampled_from(["0", "0.00", "1e3", "-5", "NaN", "5.", ".5", "1" * 31, "1." + "0" * 19 + "1"])
GOOD_AMOUNT = st.from_regex(r"[1-9][0-9]{0,2}(\.[0-9]{1,3})?", fullmatch=True)
SHAPES = {
    "account_opened": ("account",), "account_closed": ("account",), "deposited": ("account", "amount"),
    "withdrawn": ("account", "amount"), "transferred": ("account", "to", "amount"),
    "reversed": ("target", "amount", "account", "to"),
}  # fmt: skip
ODD = {
    "account": ODD_TEXT, "to": ODD_TEXT, "amount": ODD_AMOUNT, "memo": st.text(max_size=5), "type": st.text(max_size=4),
    "key": st.text(max_size=5), "target": st.integers(-2, 9), "v": st.integers(0, 3), "id": st.text(max_size=5),
}  # fmt: skip


@st.composite
def event_fields(draw: st.DrawFn) -> dict[str, object]:
    """Mostly well-formed event contents (so many chains are valid), sometimes with one odd field."""
    kind = draw(st.sampled_from([*sorted(SHAPES), *["deposited", "withdrawn", "transferred"] * 3]))
    good = {"account": NAMES, "to": NAMES, "amount": GOOD_AMOUNT, "target": st.integers(1, 10)}
    fields: dict[str, object] = {"type": kind}
    for name in SHAPES[kind]:
        if kind != "reversed" or name in ("target", "amount") or draw(st.booleans()):
            fields[name] = draw(good[name])
    if draw(st.integers(0, 5)) == 0:
        odd = draw(st.sampled_from(sorted(ODD)))
        fields[odd] = draw(ODD[odd])
    return fields


@FUZZ
@given(chain=st.lists(event_fields(), min_size=1, max_size=8))
def test_a_well_sealed_chain_of_random_events_is_refused_cleanly_or_keeps_every_rule(
    workdir: Path, chain: list[dict[str, object]]
) -> None:
    """Events with right hashes but arbitrary contents: only LedgerErrors, and an accepted log breaks no rule."""
    COUNTS["sealed chains"] += 1
    prev, data = GENESIS, b""
    funded = [{"type": "deposited", "account": name, "amount": "1000"} for name in ("acct", "bank:savings", "東京")]
    chain = [*funded, *chain]  # funds first, so that many random chains keep every rule
    for seq, extra in enumerate(chain, start=1):
        fields = {
            "v": SCHEMA_VERSION,
            "seq": seq,
            "id": f"00000000-0000-7000-8000-{seq:012d}",
            "ts": f"2025-01-01T00:00:{seq:02d}.000000Z",
            "prev": prev,
            "memo": "m",
            **extra,
        }
        line = seal(fields)
        prev = line[-67:-3].decode()
        data += line
    path = workdir / "sealed.jsonl"
    path.write_bytes(data)
    try:
        report = ledger_at(path, use_cache=False).verify()
    except LedgerError:
        return
    if not report.ok:
        assert report.problems and "line " in report.problems[0]
        return
    state = ledger_at(path, use_cache=False).state()
    assert report.events == state.seq == len(chain)
    assert all(balance >= 0 for balance in state.balances.values())
    assert all(state.balances[name] == 0 for name, is_open in state.open.items() if not is_open)
    COUNTS["chains accepted"] += 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, via=st.sampled_from(["typer", "fast"]))
def test_cli_on_a_mutated_log_exits_0_or_3_and_never_shows_a_traceback(
    workdir: Path, original: tuple[bytes, list[bytes], list[State]], ops: list[tuple[str, int, int, bytes]], via: str
) -> None:
    data, _, _ = original
    path = workdir / "cli.jsonl"
    mutated = _mutate(data, ops)
    path.write_bytes(mutated)
    shutil.rmtree(path.with_name(path.name + ".cache"), ignore_errors=True)
    run = Runner(via, path)
    codes = {}
    for args in (["verify", "--json"], ["balance"], ["history"], ["accounts"]):
        COUNTS["cli runs"] += 1
        result = run("-f", str(path), *args)
        assert result.code in (0, 3), (args, result.code, result.stderr)
        assert "Traceback" not in result.stderr
        codes[args[0]] = result.code
    assert len(set(codes.values())) == 1, codes  # verify and the reads agree on whether it can be trusted
    assert path.read_bytes() == mutated  # reads never change the log
