"""Our account names as Beancount accounts: valid by Beancount's own rule and one-to-one.

Beancount (core/account.py) wants every component to start with an uppercase letter (Lu) or a
decimal digit (Nd) and go on with letters (L), decimal digits or `-`; our names allow `_`,
`.`, any digit and, in some scripts, combining marks, and tell `acct1` from `Acct1`. Each of
our segments becomes one component:

- body: a letter or decimal digit stays, `-` becomes `--`, `_` `-u`, `.` `-d`, anything else
  `-x<hex code point>-`; so a `-` is always followed by `-`, `u`, `d` or `x`;
- first character: a decimal digit stays; a lowercase letter whose one-letter uppercase lowers
  back to it is made uppercase (`acct1` → `Acct1`); anything else (an uppercase first letter
  included) is kept and prefixed with `X-o`, which no body makes (`Acct1` → `X-oAcct1`).

Every name goes under `Assets:` (our balances are never negative). Decoding is unambiguous,
so two of our names never meet; `tests/test_beancount.py` holds it over random names.
"""

from __future__ import annotations

import unicodedata

ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
_BODY = {"-": "--", "_": "-u", ".": "-d"}


def _body(text: str) -> str:
    out = []
    for char in text:
        if char in _BODY:
            out.append(_BODY[char])
        elif unicodedata.category(char)[0] == "L" or unicodedata.category(char) == "Nd":
            out.append(char)
        else:
            out.append(f"-x{ord(char):x}-")
    return "".join(out)


def component(segment: str) -> str:
    """One of our segments (non-empty) as a Beancount account component."""
    first = segment[0]
    if unicodedata.category(first) == "Nd":
        return first + _body(segment[1:])
    upper = first.upper()
    if unicodedata.category(first) == "Ll" and len(upper) == 1 and unicodedata.category(upper) == "Lu":
        if upper.lower() == first:
            return upper + _body(segment[1:])
    return "X-o" + _body(segment)


def beancount_name(account: str, root: str = "Assets") -> str:
    return root + ":" + ":".join(component(segment) for segment in account.split(":"))


def counter_name(account: str, root: str) -> str:
    """A counter-account (income:unknown) under its own root when its first segment names one
    (Income:Unknown), else under `root`."""
    segments = account.split(":")
    named = segments[0].capitalize()
    if named in ROOTS and len(segments) > 1:
        return named + ":" + ":".join(component(segment) for segment in segments[1:])
    return beancount_name(account, root)


def valid(name: str) -> bool:
    """Beancount's ACCOUNT_RE, whole: a root, then components [Lu Nd][L Nd -]*."""
    parts = name.split(":")
    if len(parts) < 2 or parts[0] not in ROOTS:
        return False
    for part in parts[1:]:
        if not part or unicodedata.category(part[0]) not in ("Lu", "Nd"):
            return False
        for char in part[1:]:
            if char != "-" and unicodedata.category(char)[0] != "L" and unicodedata.category(char) != "Nd":
                return False
    return True
