"""The reference fold over any store's `read`: the books, a walk and a verification, event by
event. A store may answer faster (the file store folds in C from its checkpoints), but never
differently; the memory store answers with exactly this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ledger_cli.domain import State, check, evolve, reversal_matches
from ledger_cli.errors import LogCorrupt, StoreError
from ledger_cli.eventlog import EMPTY, VerifyReport
from ledger_cli.events import REVERSED, Event, EventLike
from ledger_cli.money import money_context
from ledger_cli.when import Point

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class Readable(Protocol):
        def read(self, after: int = 0, until: Point | None = None) -> Iterator[Event]: ...

        def at(self, seq: int) -> Event | None: ...


def fold(log: Readable, until: Point | None = None, visit: Callable[[EventLike], None] | None = None) -> State:
    """The books after every verified event up to `until`; LogCorrupt on a broken rule."""
    state = State()
    with money_context():
        for event in log.read(0, until):
            problem = check(state, event)
            if problem is not None:
                raise LogCorrupt(event.seq, problem)
            evolve(state, event)
            if visit is not None:
                visit(event)
    return state


def verify(log: Readable) -> VerifyReport:
    """Every event checked from the first, and each reversal against the event it undoes."""
    state = State()
    reversals: list[Event] = []
    try:
        with money_context():
            for event in log.read():
                problem = check(state, event)
                if problem is not None:
                    raise LogCorrupt(event.seq, problem)
                evolve(state, event)
                if event.type == REVERSED:
                    reversals.append(event)
        for reversal in reversals:  # once every event is good, as the file store does
            original = log.at(reversal.target or 0)
            problem = "its target is missing" if original is None else reversal_matches(reversal, original)
            if problem is not None:
                before = log.at(reversal.seq - 1)
                head = EMPTY.hash if before is None else before.hash or ""
                return VerifyReport(False, reversal.seq - 1, head, [str(LogCorrupt(reversal.seq, problem))])
    except LogCorrupt as exc:  # every event before the bad one is good
        return VerifyReport(False, state.seq, state.head if state.seq else EMPTY.hash, [str(exc)])
    except StoreError as exc:
        return VerifyReport(False, 0, EMPTY.hash, [str(exc)])
    return VerifyReport(True, state.seq, state.head)
