"""`ledger export` through the C extension: _native_export.c makes the text of each verified
line exactly as the Python writers (journal, beancount, exports.CsvWriter) would, keeping the
running balances itself; where it stops short (a value past its limits), it hands its state to
the Python writer, which goes on from that line. tests/test_native_export.py holds the two to
the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from ledger_cli.accel import native
from ledger_cli.errors import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ledger_cli.exports import DateOrder

FORMATS = {"hledger": 0, "beancount": 1, "csv": 2}
END, SKIP, STOP, PYTHON = 0, 1, 2, 3


def writer(
    order: DateOrder, fmt: str, out: IO[str], names: dict[str, str] | None, currency: str
) -> Callable[[bytes], bool] | None:
    """A visitor of the walk's blocks for `order` that writes them in C and returns True, or
    False once it has handed over to the Python writer (it then takes the block's rest and
    every later one); b"" ends the export. None without the extension."""
    ext = native()
    if ext is None:
        return None
    books = order.books
    income, expense = order.counters
    own = {account: None if names is None else names[account] for account in books.accounts}
    counters = {income: None if names is None else names[income], expense: None if names is None else names[expense]}
    finals = {seq for _, seq, _ in books.status.values()}
    ext.export_begin(FORMATS[fmt], own, counters, currency, books.targets, finals, order.as_of)
    skips = sorted(books.offday)
    state = {"skip": 0, "live": True}
    out.flush()
    raw = getattr(out, "buffer", None)

    def write(text: bytes) -> None:
        if text:
            raw.write(text) if raw is not None else out.write(text.decode())

    def hand_over() -> None:
        balances, opened, touched, day, latest = ext.export_state()
        ext.export_finish()
        order.emit.resume(balances, opened, touched, day)
        order.latest = latest
        state["live"] = False

    def early_one() -> bool:
        """The next off-day entry in date order, in C; False when it was handed over."""
        _, seq = order.early[order.at]
        text, _, code = ext.export_lines(order.lines[seq], 0, 0, None, 0, True)
        if code != END:
            hand_over()
            return False
        write(text)
        order.at += 1
        return True

    def blocks(block: bytes) -> bool:
        if not state["live"]:
            return False
        if not block:  # the end: the entries dated after every other, then Beancount's last balances
            while order.at < len(order.early):
                if not early_one():
                    return False
            write(ext.export_finish())
            return True
        pos = 0
        while True:
            skip = skips[state["skip"]] if state["skip"] < len(skips) else 0
            stop_date, stop_seq = order.early[order.at] if order.at < len(order.early) else (None, 0)
            text, pos, code = ext.export_lines(block, pos, skip, stop_date, stop_seq, False)
            write(text)
            if code == END:
                return True
            if code == SKIP:
                end = block.find(b"\n", pos)
                end = len(block) if end < 0 else end
                line = order.lines.get(skip)
                if line is not None and line != block[pos:end]:
                    raise StoreError(f"event {skip} changed while it was exported")
                state["skip"] += 1
                pos = end + 1
                if pos >= len(block):
                    return True
            elif code == STOP:
                if not early_one():
                    break
            else:
                hand_over()
                break
        from ledger_cli.fastcodec import events_of

        for ev in events_of(block[pos:]):
            order.visit(ev)  # type: ignore[arg-type]
        return True

    return blocks
