"""What a walk of the file hands its visitor on the C extension's path: the lines the
extension verified and applied (their starts collected by it, filtered by an account) and the
events Python read, in log order; as events, or for a jsonl history as the lines themselves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ledger_cli.codec import line_of, verified_event
from ledger_cli.events import EventLike, as_event


class Seen:
    """What walk() hands to its visitor on the extension's path: the lines the extension
    applied (their starts collected by it, filtered by `only`) and the events Python read,
    in log order; with `tail`, only the last `tail`, held back until the end."""

    def __init__(
        self, visit: Callable[[EventLike], None], only: str | None, tail: int | None, raw: bool = False
    ) -> None:
        self.visit = visit
        self.raw = raw  # hand over lines, not events
        self.only = only
        self.starts: list[int] = []
        self.pending: deque[bytes | EventLike] | None = None if tail is None else deque(maxlen=tail)

    def lines(self, block: bytes) -> None:
        """Take the lines of `block` that the last fold call collected (verified by it)."""
        find = block.index
        starts = self.starts
        if self.pending is None and self.raw and self.only is None:
            if starts:  # every line the call applied, in a row: handed over as one piece
                self.visit(block[starts[0] : find(b"\n", starts[-1])])  # type: ignore[arg-type]
        else:
            for start in self.starts:
                self.add(block[start : find(b"\n", start)])
        self.starts.clear()

    def add(self, item: bytes | EventLike) -> None:
        if self.raw and not isinstance(item, bytes):
            item = line_of(as_event(item, item.hash or ""))
        if self.pending is not None:
            self.pending.append(item)
        else:
            self.visit(item if self.raw else _event_of(item))  # type: ignore[arg-type]

    def finish(self) -> None:
        for item in self.pending or ():
            self.visit(item if self.raw else _event_of(item))  # type: ignore[arg-type]
        self.pending = None


def _event_of(item: bytes | EventLike) -> EventLike:
    """The event of a line the extension's fold verified (these bytes, in this process), or
    the event itself."""
    return verified_event(item) if isinstance(item, bytes) else item
