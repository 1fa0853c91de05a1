"""`ledger copy SRC DST`: a log copied between any two stores (file or PostgreSQL), byte for byte.

SRC is verified whole first (a bad line is exit 3 and nothing is copied). DST, under its write
lock, must be empty or hold a prefix of SRC (its last event is SRC's event of that seq, hash
for hash: the chain makes the rest equal); then the events SRC has beyond it are appended in
one durable write or one transaction, as the lines SRC holds. Otherwise the two have diverged:
exit 3 naming the first seq where they differ (found by bisection: an equal hash means an
equal history up to it). Run again, it copies only what is new: a resumable migration and an
incremental backup.
"""

from __future__ import annotations

import os

from ledger_cli.config import is_database, ledger_at, lock_timeout
from ledger_cli.errors import InvalidValue, LogCorrupt, StoreError
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ledger_cli.eventlog import EventLog, WriteSession


def location(text: str, what: str) -> str:
    if not text:
        raise InvalidValue(f"{what} is empty: give a log file or a postgresql:// URI")
    return text if is_database(text) else os.path.expanduser(text)


def same(one: str, other: str) -> bool:
    if is_database(one) or is_database(other):
        return one == other
    try:
        return os.path.samefile(one, other)
    except OSError:
        return os.path.realpath(one) == os.path.realpath(other)


def copy(source: str, destination: str) -> tuple[int, int, str]:
    """Copy what DST lacks; (events copied, DST's head seq, its hash) afterwards."""
    if same(source, destination):
        raise InvalidValue("SRC and DST are the same log: nothing to copy")
    src = ledger_at(source).log
    report = src.verify()
    if not report.ok:
        raise LogCorrupt(report.events + 1, f"{source} does not verify ({report.problems[0]}); nothing was copied")
    upto = report.events
    dst = ledger_at(destination).log
    with dst.writing(lock_timeout()) as session:
        have = session.head()
        if have.seq:
            differs = _first_difference(src, session, min(have.seq, upto))
            if differs is None and have.seq > upto:
                differs = upto + 1  # DST holds events SRC lacks
            if differs is not None:
                raise StoreError(
                    f"{destination} and {source} have diverged at seq {differs}: nothing was copied "
                    "(DST must be empty or hold a prefix of SRC)"
                )
        if have.seq >= upto:
            return 0, have.seq, have.hash
        books = src.books(dated=True)  # (from the head checkpoint: the common case)
        if books.seq != upto:  # SRC grew since it was verified: the books at what was verified
            books = src.books(Point(str(upto), seq=upto), dated=True)
        if (books.seq, books.head) != (upto, report.head):
            raise StoreError(f"{source} changed while it was copied; run the command again")
        session.append_sealed(src.lines_after(have.seq, upto), books)
        return upto - have.seq, upto, report.head


def _first_difference(src: EventLog, session: WriteSession, upto: int) -> int | None:
    """The first seq ≤ upto where the two logs' events differ (None: the same up to `upto`)."""

    def equal(seq: int) -> bool:
        ours, theirs = src.at(seq), session.at(seq)
        return ours is not None and theirs is not None and ours.hash == theirs.hash

    if equal(upto):
        return None
    low, high = 1, upto  # the answer lies in [low, high]: equal(high) is False
    while low < high:
        middle = (low + high) // 2
        if equal(middle):
            low = middle + 1
        else:
            high = middle
    return low
