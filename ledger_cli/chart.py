"""`ledger chart [ACCOUNT…] [--by day|week|month] [--as-of D]`: balances over time, by date, as
bars. In the terminal: one row a period, the bar in Unicode eighth blocks scaled to the widest
balance, sized to the terminal's width (or --width), green for a balance above zero and red
below on a colour terminal (never with NO_COLOR or in a pipe). `--format png -o FILE`: the same
balances drawn by matplotlib, from the optional extra `ledger-cli[chart]`, imported only here."""

from __future__ import annotations

import os
import shutil
import sys
from decimal import Decimal

from ledger_cli.errors import InvalidValue
from ledger_cli.money import format_amount
from ledger_cli.periods import PeriodReport

BLOCKS = " ▏▎▍▌▋▊▉█"  # 0 to 8 eighths of a cell
CHART_BY = ("day", "week", "month")
PNG_SIZE = (960, 540)  # pixels (9.6 x 5.4 inches at 100 dpi)


def bar(value: Decimal, largest: Decimal, cells: int) -> str:
    """|value| as a bar of eighth blocks, `largest` filling `cells` cells (exact: no float)."""
    if largest == 0 or cells <= 0:
        return ""
    eighths = int(abs(value) * cells * 8 / largest)
    return ("█" * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")).ljust(cells)


def series(report: PeriodReport, names: list[str]) -> list[tuple[str, list[Decimal]]]:
    """What is drawn: each named account's balances (its sub-accounts' summed in), or the
    total of all when none is named."""
    if not names:
        return [("total", report.totals)]
    found = []
    for name in names:
        rows = [values for account, values in report.rows if account == name or account.startswith(name + ":")]
        found.append((name, [sum((r[i] for r in rows), Decimal(0)) for i in range(len(report.periods))]))
    return found


def text(report: PeriodReport, names: list[str], width: int, colour: bool) -> str:
    """The chart as lines of text at most `width` characters wide."""
    if not report.periods:
        return "no entries dated in the range: nothing to draw\n"
    labels = [period.label for period in report.periods]
    drawn = series(report, names)
    shown = {name: [format_amount(v) for v in values] for name, values in drawn}
    label_w = max(len(label) for label in labels)
    value_w = max(len(v) for values in shown.values() for v in values)
    cells = max(width - label_w - value_w - 4, 1)
    lines = []
    for name, values in drawn:
        largest = max((abs(v) for v in values), default=Decimal(0))
        lines.append(f"{name}: balance at each period's end"[:width])
        for label, value, amount in zip(labels, values, shown[name]):
            body = bar(value, largest, cells)
            if colour and value != 0:
                body = ("\x1b[32m" if value > 0 else "\x1b[31m") + body + "\x1b[0m"
            lines.append(f"{label:<{label_w}} │{body} {amount:>{value_w}}")
        lines.append("")
    return "\n".join(lines)


def draw(report: PeriodReport, names: list[str], fmt: str, output: str | None, width: int | None) -> None:
    """Draw as `fmt` (text or png: chart() checked it before reading the books)."""
    if fmt == "png":
        if output is None:
            raise InvalidValue("--format png needs -o FILE (an image does not go to a terminal)")
        png(report, names, output)
        return
    columns = width or shutil.get_terminal_size((80, 24)).columns
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(text(report, names, columns, colour))


def png(report: PeriodReport, names: list[str], output: str) -> None:
    """The chart as a PNG of PNG_SIZE pixels, written atomically."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise InvalidValue("the PNG chart needs matplotlib: pip install 'ledger-cli[chart]'") from None
    labels = [period.label for period in report.periods]
    figure, axes = pyplot.subplots(figsize=(PNG_SIZE[0] / 100, PNG_SIZE[1] / 100), dpi=100)
    drawn = series(report, names)
    step = 0.8 / max(len(drawn), 1)
    for k, (name, values) in enumerate(drawn):
        positions = [i + k * step for i in range(len(labels))]
        axes.bar(positions, [float(v) for v in values], width=step, label=name)  # (float: pixels, not money)
    axes.set_xticks([i + step * (len(drawn) - 1) / 2 for i in range(len(labels))], labels, rotation=45, ha="right")
    axes.set_ylabel("balance at the period's end")
    axes.axhline(0, color="black", linewidth=0.8)
    axes.legend()
    figure.tight_layout()
    folder = os.path.dirname(os.path.abspath(output))
    temporary = os.path.join(folder, f".{os.path.basename(output)}.{os.getpid()}.png")
    try:
        figure.savefig(temporary, format="png", dpi=100)
        os.replace(temporary, output)
    except OSError as exc:
        raise InvalidValue(f"cannot write {output}: {exc.strerror}") from None
    finally:
        pyplot.close(figure)
        if os.path.exists(temporary):
            os.unlink(temporary)


def chart(
    file: str | None,
    accounts: list[str],
    by: str = "month",
    as_of: str | None = None,
    fmt: str = "text",
    output: str | None = None,
    width: int | None = None,
) -> int:
    """`ledger chart`: the books' balances by date (the changes per day), drawn."""
    from ledger_cli.actions import _day, _ledger
    from ledger_cli.books import ensure_days
    from ledger_cli.periods import period_report
    from ledger_cli.values import parse_account

    if by not in CHART_BY:
        raise InvalidValue(f"invalid --by {by!r}: choose one of {', '.join(CHART_BY)}")
    if fmt not in ("text", "png"):
        raise InvalidValue(f"invalid --format {fmt!r}: choose text or png")
    names = [parse_account(name) for name in accounts]
    day = _day(as_of, "--as-of")
    state = _ledger(file).state(None, keys=False, dated=True)
    ensure_days(state)
    end = None
    if day is not None:
        from ledger_cli.dates import day_number, day_text

        end = day_text(day_number(day) + 1)
    draw(period_report(state.days, names, by, None, end, False), names, fmt, output, width)
    return 0
