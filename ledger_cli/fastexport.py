"""`ledger export` through the C extension: _native_export.c makes the text of each verified
line exactly as the Python writers (journal, beancount, exports.CsvWriter) would, keeping the
running balances itself; where it stops short (a value past its limits), it hands its state to
the Python writer, which goes on from that line. tests/test_native_export.py holds the two to
the same bytes."""

from __future__ import annotations

from typing import IO

from ledger_cli.accel import native
from ledger_cli.errors import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from ledger_cli.exports import DateOrder

FORMATS = {"hledger": 0, "beancount": 1, "csv": 2}
END, SKIP, STOP, PYTHON = 0, 1, 2, 3


def writer(
    order: DateOrder, fmt: str, out: IO[str], names: dict[str, str] | None, currency: str
) -> NativeWriter | None:
    """The C writer for `order`, or None without the extension."""
    ext = native()
    return None if ext is None else NativeWriter(ext, order, fmt, out, names, currency)


class NativeWriter:
    """feed(block) for each of the walk's blocks, then end()."""

    def __init__(
        self, ext: ModuleType, order: DateOrder, fmt: str, out: IO[str], names: dict[str, str] | None, currency: str
    ) -> None:
        self.ext, self.order, self.out = ext, order, out
        books = order.books
        income, expense = order.counters

        def name(account: str) -> str | None:
            return None if names is None else names[account]

        own = {account: name(account) for account in books.accounts}
        finals = {seq for _, seq, _ in books.status.values()}
        ext.export_begin(FORMATS[fmt], own, {income: name(income), expense: name(expense)}, currency,
                         books.targets, finals, order.as_of)  # fmt: skip
        self.skips, self.skip = sorted(books.offday), 0
        self.live = True  # False once handed over to the Python writer
        out.flush()
        self.raw: IO[bytes] | None = getattr(out, "buffer", None)

    def feed(self, block: bytes) -> None:
        """Write the text of one of the walk's blocks (after a hand-over, the Python writer's)."""
        order, pos = self.order, 0
        while self.live:
            skip = self.skips[self.skip] if self.skip < len(self.skips) else 0
            stop_date, stop_seq = order.early[order.at] if order.at < len(order.early) else (None, 0)
            text, pos, code = self.ext.export_lines(block, pos, skip, stop_date, stop_seq, False)
            self._write(text)
            if code == END:
                return
            if code == SKIP:
                end = block.find(b"\n", pos)
                end = len(block) if end < 0 else end
                line = order.lines.get(skip)
                if line is not None and line != block[pos:end]:
                    raise StoreError(f"event {skip} changed while it was exported")
                self.skip += 1
                pos = end + 1
                if pos >= len(block):
                    return
            elif code == STOP:
                self._early_one()
            else:
                self._hand_over()
        from ledger_cli.fastcodec import events_of

        for ev in events_of(block[pos:]):
            order.visit(ev)  # type: ignore[arg-type]

    def end(self) -> None:
        """After the walk: the entries dated after every other, then Beancount's last balances."""
        order = self.order
        while self.live and order.at < len(order.early):
            self._early_one()
        if self.live:
            self._write(self.ext.export_finish())
            return
        order.finish()

    def _write(self, text: bytes) -> None:
        if text:
            self.raw.write(text) if self.raw is not None else self.out.write(text.decode())

    def _hand_over(self) -> None:
        balances, opened, touched, day, latest = self.ext.export_state()
        self.ext.export_finish()
        if self.raw is not None:
            self.raw.flush()
        self.order.emit.resume(balances, opened, touched, day)
        self.order.latest = latest
        self.live = False

    def _early_one(self) -> bool:
        """The next off-day entry in date order, in C; False when it was handed over."""
        order = self.order
        _, seq = order.early[order.at]
        text, _, code = self.ext.export_lines(order.lines[seq], 0, 0, None, 0, True)
        if code != END:
            self._hand_over()
            return False
        self._write(text)
        order.at += 1
        return True
