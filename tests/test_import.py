"""`ledger import`: batches checked in order and appended all-or-nothing (contract §4)."""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger_cli import accel, batch
from ledger_cli.config import ledger_at
from ledger_cli.errors import LedgerError
from tests.conftest import Runner


def jsonl(*records: dict[str, str]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def balances(ledger: Runner) -> dict[str, Decimal]:
    out = ledger("balance", "--json")
    assert out.code == 0, out.stderr
    return {row["account"]: Decimal(row["balance"]) for row in json.loads(out.stdout)["accounts"]}


def test_import_jsonl_from_stdin_appends_every_record_in_order(ledger: Runner) -> None:
    text = jsonl(
        {"type": "open", "account": "a"},
        {"type": "deposit", "account": "a", "amount": "10.50", "memo": "pay"},
        {"type": "transfer", "account": "a", "to": "b", "amount": "0.50"},
        {"type": "withdraw", "account": "a", "amount": "1"},
        {"type": "deposit", "account": "c", "amount": "1"},
        {"type": "withdraw", "account": "c", "amount": "1"},
        {"type": "close", "account": "c"},
    )
    out = ledger("import", input=text)
    assert out.code == 0, out.stderr
    assert "imported 7 events" in out.stdout and out.stderr == ""
    types = [json.loads(line)["type"] for line in ledger.lines()]
    assert types == [
        "account_opened",
        "deposited",
        "transferred",
        "withdrawn",
        "deposited",
        "withdrawn",
        "account_closed",
    ]
    assert balances(ledger) == {"a": Decimal("9"), "b": Decimal("0.5"), "c": Decimal(0)}
    assert ledger("verify").code == 0


def test_import_csv_file_with_a_header_row(ledger: Runner, tmp_path: Path) -> None:
    source = tmp_path / "batch.csv"
    source.write_text('type,account,to,amount,memo\ndeposit,a,,5,"rent, march"\ntransfer,a,b,2,\n', encoding="utf-8")
    out = ledger("import", str(source))
    assert out.code == 0, out.stderr
    assert balances(ledger) == {"a": Decimal(3), "b": Decimal(2)}
    assert json.loads(ledger.lines()[0])["memo"] == "rent, march"


def test_import_rule_violation_names_the_line_exits_1_and_writes_nothing(ledger: Runner) -> None:
    assert ledger("deposit", "a", "1").code == 0
    before = ledger.log.read_bytes()
    text = jsonl(
        {"type": "deposit", "account": "a", "amount": "1"}, {"type": "withdraw", "account": "a", "amount": "5"}
    )
    out = ledger("import", "-", input=text)
    assert out.code == 1 and out.stdout == ""
    assert "line 2" in out.stderr and "insufficient funds" in out.stderr
    assert ledger.log.read_bytes() == before


def test_import_bad_value_names_the_line_exits_2_and_writes_nothing(ledger: Runner) -> None:
    assert ledger("deposit", "a", "1").code == 0
    before = ledger.log.read_bytes()
    for bad in (
        '{"type":"deposit","account":"a","amount":12.5}',  # a JSON number: could have been a float
        '{"type":"deposit","account":"a","amount":"1e3"}',
        '{"type":"deposit","account":"a b","amount":"1"}',
        '{"type":"spend","account":"a","amount":"1"}',
        '{"type":"deposit","account":"a","amount":"1","extra":"x"}',
        '{"type":"deposit","account":"a","amount":NaN}',
        "not json",
        '["deposit"]',
    ):
        out = ledger("import", input=jsonl({"type": "deposit", "account": "a", "amount": "1"}) + bad + "\n")
        assert out.code == 2, (bad, out.stderr)
        assert "line 2" in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
        assert ledger.log.read_bytes() == before


def test_a_refused_import_on_a_missing_log_creates_no_log(ledger: Runner) -> None:
    out = ledger("import", input=jsonl({"type": "withdraw", "account": "a", "amount": "1"}))
    assert out.code == 1
    assert not ledger.log.exists()


def test_import_honours_idempotency_keys_before_and_within_the_batch(ledger: Runner) -> None:
    assert ledger("deposit", "a", "5", "-k", "k1").code == 0
    text = jsonl(
        {"type": "deposit", "account": "a", "amount": "5.00", "key": "k1"},  # a retry: same payload
        {"type": "deposit", "account": "a", "amount": "1", "key": "k2"},
        {"type": "deposit", "account": "a", "amount": "1", "key": "k2"},  # a retry inside the batch
    )
    out = ledger("import", input=text)
    assert out.code == 0, out.stderr
    assert "imported 1 events" in out.stdout and "2 already recorded" in out.stdout
    assert balances(ledger) == {"a": Decimal(6)}
    before = ledger.log.read_bytes()
    conflict = ledger("import", input=jsonl({"type": "deposit", "account": "a", "amount": "2", "key": "k2"}))
    assert conflict.code == 1 and "line 1" in conflict.stderr
    assert ledger.log.read_bytes() == before


def test_import_format_option_overrides_the_file_name(ledger: Runner, tmp_path: Path) -> None:
    source = tmp_path / "batch.txt"
    source.write_text("type,account,amount\ndeposit,a,3\n", encoding="utf-8")
    assert ledger("import", str(source), "--format", "csv").code == 0
    assert balances(ledger) == {"a": Decimal(3)}
    assert ledger("import", str(source), "--format", "xml").code == 2


_accounts = st.sampled_from(["a", "b", "c:d"])
_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50), places=2)
_records = st.lists(
    st.one_of(
        st.builds(lambda a, x: {"type": "deposit", "account": a, "amount": str(x)}, _accounts, _amounts),
        st.builds(lambda a, x: {"type": "withdraw", "account": a, "amount": str(x)}, _accounts, _amounts),
        st.builds(
            lambda a, b, x: {"type": "transfer", "account": a, "to": b, "amount": str(x)},
            _accounts,
            _accounts,
            _amounts,
        ),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_records)
def test_import_equals_running_the_commands_one_by_one_or_refuses_like_them(
    tmp_path: Path, records: list[dict[str, str]]
) -> None:
    folder = tmp_path / str(abs(hash(json.dumps(records))))
    folder.mkdir()
    one_by_one = ledger_at(folder / "a.jsonl")
    refused_at = None
    for number, record in enumerate(records, 1):
        command = batch.to_command(record, batch._Cache())
        try:
            one_by_one.execute(command)
        except LedgerError:
            refused_at = number
            break
    batched = ledger_at(folder / "b.jsonl")
    lines = [json.dumps(record).encode() + b"\n" for record in records]
    if refused_at is None:
        batched.import_commands(batch.commands(batch.jsonl_records(lines)))
        assert batched.state().balances == one_by_one.state().balances
        assert batched.verify().ok
    else:
        try:
            batched.import_commands(batch.commands(batch.jsonl_records(lines)))
        except LedgerError as exc:
            assert f"line {refused_at}:" in str(exc)
        else:
            raise AssertionError("the batch was accepted although a command in it is refused")
        assert not (folder / "b.jsonl").exists()


# Mostly none; sometimes text that needs an escape, non-ASCII text, or (rarely) a bad value.
_texts = st.sampled_from([None] * 8 + ["", "plain", 'a "quoted" one', "back\\slash", "café ✓", "東京", "tab\tin"])
_keys = st.sampled_from([None] * 12 + ["k1", "k2", 'q"k', "ключ"])
_FUNDS = [{"type": "deposit", "account": name, "amount": "100"} for name in ("a", "b", "c:d")]
_funded = st.sampled_from(["a", "b", "c:d"])


def _record(kind: str, account: str, to: str | None = None, amount: Decimal | str | None = None) -> dict[str, str]:
    fields = {"type": kind, "account": account, "to": to, "amount": None if amount is None else str(amount)}
    return {name: value for name, value in fields.items() if value is not None}


_odd_amounts = st.sampled_from(["0.000000000000000001", "7.10", "007.5", "0.50", "0.50", "1E+3"])
_full_records = st.lists(
    st.one_of(
        st.builds(_record, st.just("deposit"), st.sampled_from(["a", "e", "c:d"]), st.none(), _amounts | _odd_amounts),
        st.builds(_record, st.just("withdraw"), _funded, st.none(), _amounts | _odd_amounts),
        st.builds(_record, st.just("transfer"), _funded, st.sampled_from(["a", "b", "e"]), _amounts | _odd_amounts),
        st.builds(_record, st.just("open"), st.sampled_from(["e", "f"]), st.none(), st.none()),
        st.builds(_record, st.just("close"), st.sampled_from(["e", "f"]), st.none(), st.none()),
        *[st.builds(_record, st.just(kind), _funded, st.none(), _amounts) for kind in ("deposit", "withdraw")],
    ).flatmap(lambda record: st.builds(lambda memo, key: {**record, **_extra(memo, key)}, _texts, _keys)),
    max_size=20,
).map(lambda records: [*_FUNDS, *records])  # funded first, so that most batches go far


def _extra(memo: str | None, key: str | None) -> dict[str, str]:
    return {name: value for name, value in (("memo", memo), ("key", key)) if value is not None}


class _Ids:
    """Ids 1, 2, 3… in UUID form, so that two logs built the same way are the same bytes."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"00000000-0000-7000-8000-{self.n:012d}"


def _fixed_clock() -> str:
    return "2025-01-01T00:00:00.000000Z"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_full_records)
def test_a_batch_writes_the_very_bytes_the_commands_write_one_by_one_with_and_without_the_extension(
    tmp_path: Path, records: list[dict[str, str]]
) -> None:
    """The import's hot path (domain.apply_move, codec.movement_line, the extension's
    seal_move and amount check) against decide() and seal(), the path each command takes."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    one_by_one = ledger_at(folder / "a.jsonl", clock=_fixed_clock, new_id=_Ids())
    outcome: object = None
    for number, record in enumerate(records, 1):
        try:
            one_by_one.execute(batch.to_command(record, batch._Cache()))
        except LedgerError as exc:
            outcome = f"line {number}: {exc}"
            break
    lines = [json.dumps(record, ensure_ascii=False).encode() + b"\n" for record in records]
    for native in (True, False):
        saved = accel._found[:]
        if not native:
            accel._found[:] = [None]
        try:
            path = folder / f"b-{native}.jsonl"
            batched = ledger_at(path, clock=_fixed_clock, new_id=_Ids())
            try:
                batched.import_commands(batch.commands(batch.jsonl_records(lines)))
            except LedgerError as exc:
                assert outcome is not None and str(exc).startswith(str(outcome)), (exc, outcome)
                assert not path.exists()
            else:
                assert outcome is None, outcome
                one = (folder / "a.jsonl").read_bytes() if (folder / "a.jsonl").exists() else b""
                assert (path.read_bytes() if path.exists() else b"") == one
        finally:
            accel._found[:] = saved


@settings(max_examples=300, deadline=None)
@given(
    record=st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(
                st.none(),
                st.sampled_from(["", "a", "b:c", "5", "0", "x y", "-x", "1e3", "\x01", "transfer", "deposit"]),
            )
            for name in batch.FIELDS
        },
    )
)
@example({"type": "deposit", "account": "-x", "amount": "5", "memo": "\x01"})  # two bad values: the same named
@example({"type": "deposit", "account": "a", "amount": "1e3", "memo": "\x01"})
@example({"type": "withdraw", "account": "a", "amount": "1e3", "key": "\x01"})
@example({"type": "transfer", "account": "a", "to": "-x", "amount": "1e3"})
@example({"type": "transfer", "account": "-y", "to": "-x", "amount": "5", "memo": "\x01"})
def test_the_fast_record_path_builds_what_to_command_builds_or_defers_to_it(record: dict[str, str | None]) -> None:
    line = json.dumps(record).encode()
    [(_, decoded)] = list(batch.jsonl_records([line]))
    cache = batch._Cache()
    try:
        expected: object = batch.to_command({k: v for k, v in record.items() if v is not None}, cache)
    except LedgerError as exc:
        expected = str(exc)
    if isinstance(decoded, dict):
        return  # not a plain record: to_command alone handles it
    try:
        fast: object = batch.move_command(decoded, cache)
    except LedgerError as exc:
        fast = str(exc)
    if fast is not None:
        assert fast == expected
