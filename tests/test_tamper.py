"""Edited histories are caught: `verify` names the line, every other command exits 3 (issue 3)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_installed
from tests.helpers_log import GENESIS, ok, rehash_from, seal, seal_body

READS = [["balance"], ["balance", "--no-cache"], ["history", "acct"], ["replay", "--json"], ["accounts"]]
WRITES = [
    ["deposit", "acct", "1"], ["deposit", "fresh", "1", "-k", "k-new"], ["withdraw", "acct", "1"],
    ["transfer", "acct", "savings", "1"], ["open", "other"], ["close", "savings"], ["reverse", "1"],
]  # fmt: skip


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """The lines (newline included) of a valid five-event log made by the installed command."""
    log = tmp_path_factory.mktemp("tamper") / "ledger.jsonl"
    ok(log, "deposit", "acct", "100")
    ok(log, "deposit", "savings", "50", "-m", "first savings")
    ok(log, "withdraw", "acct", "10")
    ok(log, "transfer", "acct", "savings", "5", "-k", "move-1")
    ok(log, "deposit", "acct", "7", "-m", "café")
    return log.read_bytes().splitlines(keepends=True)


def _edit_field(line: bytes, old: bytes, new: bytes) -> bytes:
    assert line.count(old) == 1
    return line.replace(old, new)


def _rehash_one(line: bytes, **changes: object) -> bytes:
    fields = json.loads(line)
    fields.update(changes)
    return seal(fields)


# name -> (make the tampered lines from the original ones, the line `verify` must name)
TAMPERS: dict[str, tuple[Callable[[list[bytes]], list[bytes]], int]] = {
    "edited amount": (lambda ls: [ls[0], _edit_field(ls[1], b'"amount":"50"', b'"amount":"51"'), *ls[2:]], 2),
    "edited and rehashed": (lambda ls: [ls[0], _rehash_one(ls[1], amount="5000"), *ls[2:]], 3),
    "edited memo, rehashed": (lambda ls: [ls[0], _rehash_one(ls[1], memo="second savings"), *ls[2:]], 3),
    "deleted line": (lambda ls: [*ls[:2], *ls[3:]], 3),
    "swapped lines": (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2),
    "duplicated line": (lambda ls: [*ls[:3], ls[2], *ls[3:]], 4),
    "duplicated last line": (lambda ls: [*ls, ls[-1]], 6),
    "truncated line, newline kept": (lambda ls: [*ls[:2], ls[2][:60] + b"\n", *ls[3:]], 3),
    "truncated last line, newline kept": (lambda ls: [*ls[:4], ls[4][:-20] + b"\n"], 5),
    "garbage line": (lambda ls: [*ls[:2], b"rm -rf / # not an event\n", *ls[2:]], 3),
    "garbage object as first line": (lambda ls: [b'{"hello": "world"}\n', *ls[1:]], 1),
    "blank line": (lambda ls: [*ls[:3], b"\n", *ls[3:]], 4),
    "CRLF line ending": (lambda ls: [ls[0], ls[1][:-1] + b"\r\n", *ls[2:]], 2),
}


def _assert_refused_everywhere(log: Path, line: int, *, reads: list[list[str]], writes: list[list[str]]) -> None:
    before = log.read_bytes()
    check = run_installed(["verify"], log)
    assert check.returncode == 3, check.stdout
    assert f"line {line}" in check.stderr, check.stderr
    report = run_installed(["verify", "--json"], log)
    assert report.returncode == 3
    parsed = json.loads(report.stdout)
    assert parsed["ok"] is False
    assert any(f"line {line}" in problem for problem in parsed["problems"]), parsed
    for args in [*reads, *writes]:
        result = run_installed(args, log)
        assert result.returncode == 3, (args, result.returncode, result.stdout, result.stderr)
        assert f"line {line}" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert log.read_bytes() == before, args  # nothing appended, nothing moved aside
    assert not log.with_name(log.name + ".torn").exists()


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_tampered_log_makes_verify_name_the_line_and_every_command_exit_3(
    log: Path, original: list[bytes], tamper: str
) -> None:
    make, line = TAMPERS[tamper]
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"".join(make(original)))
    _assert_refused_everywhere(log, line, reads=READS, writes=WRITES)


def _strict(original: list[bytes], bad_line: bytes) -> list[bytes]:
    """`bad_line` as line 2, with the lines after it re-chained onto its hash: only it is wrong."""
    return rehash_from([original[0], bad_line, *original[2:]], 2)


def _body(line: bytes) -> bytes:
    return line[: line.rindex(b',"hash":')] + b"}"


STRICT: dict[str, tuple[Callable[[list[bytes]], bytes], tuple[str, ...]]] = {
    "duplicate keys": (
        lambda ls: seal_body(_body(ls[1]).replace(b'"amount":"50",', b'"amount":"50","amount":"50",')),
        ("duplicate",),
    ),
    "NaN": (lambda ls: seal_body(_body(ls[1]).replace(b'"amount":"50"', b'"amount":NaN')), ("NaN",)),
    "number where a string belongs": (
        lambda ls: seal_body(_body(ls[1]).replace(b'"amount":"50"', b'"amount":50')),
        ("amount",),
    ),
    "string where a number belongs": (lambda ls: seal_body(_body(ls[1]).replace(b'"seq":2', b'"seq":"2"')), ("seq",)),
    "unknown type": (lambda ls: _rehash_one(ls[1], type="gifted"), ("gifted",)),
    "newer schema version": (lambda ls: _rehash_one(ls[1], v=3), ("version", "3")),
    "unknown field": (lambda ls: _rehash_one(ls[1], colour="red"), ("colour",)),
    "amount as exponent": (lambda ls: _rehash_one(ls[1], amount="5e1"), ("5e1",)),
}


@pytest.mark.parametrize("case", list(STRICT))
def test_strict_parsing_refuses_a_well_hashed_but_invalid_line_with_exit_3_and_a_clear_message(
    log: Path, original: list[bytes], case: str
) -> None:
    make, words = STRICT[case]
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"".join(_strict(original, make(original))))
    _assert_refused_everywhere(log, 2, reads=[["balance"], ["history"]], writes=[["deposit", "acct", "1"]])
    message = run_installed(["verify"], log).stderr
    for word in words:
        assert word in message, message


JOURNALS = {
    "hledger": "2024-01-01 opening balances\n    assets:bank      $100\n    equity:opening\n",
    "hledger with comment": "; my books\naccount assets:bank\n\n2024/01/02 * coffee\n    expenses:food  $3\n"
    "    assets:bank\n",
    "beancount": 'option "title" "Books"\n2024-01-01 open Assets:Bank USD\n',
}


@pytest.mark.parametrize("kind", list(JOURNALS))
def test_a_plain_text_journal_given_as_the_log_is_refused_with_exit_3_saying_it_looks_like_a_journal(
    log: Path, kind: str
) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(JOURNALS[kind], encoding="utf-8")
    before = log.read_bytes()
    for args in [["verify"], *READS, *WRITES]:
        result = run_installed(args, log)
        assert result.returncode == 3, (args, result.returncode, result.stderr)
        assert "journal" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert log.read_bytes() == before, args
    assert not log.with_name(log.name + ".torn").exists()


def test_an_edit_before_a_checkpoint_is_still_caught_by_every_command(log: Path) -> None:
    """Reads may keep derived checkpoints, but an edited line must never be folded past or appended after."""
    lines, prev = [], GENESIS
    for seq in range(1, 301):  # enough events for reads to leave a checkpoint behind
        fields = {
            "v": 1, "seq": seq, "id": str(uuid.UUID(int=seq, version=4)), "ts": f"2025-01-01T00:{seq // 60:02d}:"
            f"{seq % 60:02d}.000000Z", "type": "deposited", "account": "acct", "amount": "10", "prev": prev,
        }  # fmt: skip
        line = seal(fields)
        prev = json.loads(line)["hash"]
        lines.append(line)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"".join(lines))
    for args in (["balance"], ["accounts"], ["deposit", "acct", "1"], ["balance"]):
        ok(log, *args)
    data = log.read_bytes().splitlines(keepends=True)
    data[4] = _edit_field(data[4], b'"amount":"10"', b'"amount":"99"')  # same length: offsets unchanged
    log.write_bytes(b"".join(data))
    _assert_refused_everywhere(
        log,
        5,
        reads=[["balance"], ["accounts"], ["history"]],
        writes=[["deposit", "acct", "1"], ["withdraw", "acct", "1"]],
    )
