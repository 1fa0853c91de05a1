"""linefiles: the checks a PostgreSQL store makes between the database's lines and this
machine's earlier copy of them. `ends_alike` decides by one line what `first_unlike` finds by
reading both files; on hash chains the two must agree on whether the copy is a prefix."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_cli.linefiles import ends_alike, first_unlike
from tests.helpers_log import rehash_from, seal

GENESIS = "0" * 64


def chain(memos: list[str]) -> list[bytes]:
    lines, prev = [], GENESIS
    for seq, memo in enumerate(memos, start=1):
        line = seal({"type": "deposited", "seq": seq, "id": f"00000000-0000-7000-8000-{seq:012d}",
                     "ts": "2026-01-01T00:00:00.000000Z", "prev": prev, "account": "a", "amount": "1",
                     "memo": memo, "date": "2026-01-01", "v": 2})  # fmt: skip
        prev = json.loads(line)["hash"]
        lines.append(line)
    return lines


def write(folder: Path, name: str, lines: list[bytes]) -> str:
    path = folder / name
    path.write_bytes(b"".join(lines))
    return str(path)


memos = st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(memos=memos, data=st.data())
def test_ends_alike_says_prefix_exactly_when_the_copy_is_a_prefix(memos: list[str], data: st.DataObject) -> None:
    """The database's chain (`one`), perhaps edited at some line and hashed again from there,
    against a copy made before of its first k lines: alike exactly when nothing the copy holds
    was changed, and then first_unlike finds no difference either."""
    original = chain(memos)
    k = data.draw(st.integers(1, len(original)), label="copied lines")
    now = list(original)
    edit = data.draw(st.none() | st.integers(0, len(original) - 1), label="edited line (0-based)")
    if edit is not None:
        fields = json.loads(now[edit])
        fields["memo"] = fields["memo"] + "!"
        now[edit] = seal(fields)
        now = rehash_from(now, edit)
    with tempfile.TemporaryDirectory() as folder:
        one, other = write(Path(folder), "db", now), write(Path(folder), "copy", original[:k])
        changed = edit is not None and edit < k
        assert ends_alike(one, other) is (not changed)
        assert (first_unlike(one, other) is None) is (not changed)
        if changed:
            assert first_unlike(one, other) == edit + 1


def test_a_copy_longer_than_the_database_is_not_alike(tmp_path: Path) -> None:
    lines = chain(["a", "b", "c"])
    assert not ends_alike(write(tmp_path, "db", lines[:2]), write(tmp_path, "copy", lines))
    assert ends_alike(write(tmp_path, "db2", lines), write(tmp_path, "copy2", lines))


def test_a_copy_without_a_whole_last_line_or_a_missing_file_is_not_alike(tmp_path: Path) -> None:
    lines = chain(["a", "b"])
    db = write(tmp_path, "db", lines)
    assert not ends_alike(db, write(tmp_path, "torn", [lines[0], lines[1][:-5]]))
    assert not ends_alike(db, str(tmp_path / "none"))
    assert not ends_alike(str(tmp_path / "none"), db)


def test_a_last_line_longer_than_the_tail_read_is_compared_in_full(tmp_path: Path) -> None:
    lines = chain(["x" * 70_000, "y"])
    assert ends_alike(write(tmp_path, "db", lines), write(tmp_path, "copy", lines[:1])) is False  # (falls back)
    assert first_unlike(write(tmp_path, "db2", lines), write(tmp_path, "copy2", lines[:1])) is None
