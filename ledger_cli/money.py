"""Exact amounts: parsed from text without ever passing through float, printed exactly."""

from __future__ import annotations

import re
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext

from ledger_cli.errors import InvalidValue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

MAX_SCALE = 18
MAX_DIGITS = 30

_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")

# Sums of 30-digit amounts over millions of events stay far below 100 digits; Inexact is
# trapped so that an overflow of precision can never round silently.
MONEY_CONTEXT = Context(prec=100, traps=[InvalidOperation, Inexact, Overflow])


def money_context() -> AbstractContextManager[Context]:
    """A context manager under which Decimal arithmetic on money is exact or raises."""
    return localcontext(MONEY_CONTEXT)


def amount_problem(text: object) -> str | None:
    """Why `text` is not a valid amount, or None when it is one."""
    if not isinstance(text, str) or _AMOUNT.fullmatch(text) is None:
        return f"invalid amount {text!r}: use digits with an optional decimal point, like 12.50"
    if len(text) <= MAX_SCALE + 1 and text.strip("0."):
        return None  # the common case: too short to break a digit limit, and not zero
    whole, _, fraction = text.partition(".")
    if len(fraction) > MAX_SCALE:
        return f"invalid amount {text!r}: at most {MAX_SCALE} digits after the point"
    if len(whole.lstrip("0")) + len(fraction) > MAX_DIGITS:
        return f"invalid amount {text!r}: at most {MAX_DIGITS} digits in all"
    if whole.strip("0") == "" and fraction.strip("0") == "":
        return f"invalid amount {text!r}: must be greater than zero"
    return None


# Many amounts at once, each followed by a newline: every one at most 19 characters (so within
# every digit limit), digits with an optional fraction, and holding a non-zero digit.
_SHORT_AMOUNTS = re.compile(r"(?:(?=[0-9.]{1,19}\n)(?=[0-9.]*[1-9])[0-9]+(?:\.[0-9]+)?\n)*")


def all_short_amounts_valid(texts: list[str]) -> bool:
    """True only if every text is a valid amount (False may still mean all are valid:
    check those one by one with amount_problem). One regex pass over them all, in C."""
    return _SHORT_AMOUNTS.fullmatch("\n".join(texts) + "\n") is not None if texts else True


def parse_amount(text: str) -> Decimal:
    """The exact Decimal written in `text`, or InvalidValue (exit 2)."""
    problem = amount_problem(text)
    if problem is not None:
        raise InvalidValue(problem)
    return Decimal(text)


def format_amount(value: Decimal) -> str:
    """Plain positional notation, never an exponent: Decimal('1E-7') prints 0.0000001."""
    return format(value, "f")
