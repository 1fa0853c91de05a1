"""Value rules for account names, memos and idempotency keys (contract section 3)."""

from __future__ import annotations

import unicodedata

from ledger_cli.errors import InvalidValue

MAX_ACCOUNT = 128
MAX_MEMO = 1000
MAX_KEY = 200

_SEGMENT_PUNCTUATION = frozenset("_-.")
# Categories refused in free text: control, format (zero-width, bidi), surrogates, unassigned,
# private use, and the line/paragraph separators that would break a line-based tool.
_REFUSED_IN_TEXT = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp"})


def _segment_ok(segment: str) -> bool:
    if not segment or segment[0] == "-":
        return False
    for char in segment:
        if char in _SEGMENT_PUNCTUATION:
            continue
        category = unicodedata.category(char)
        # Letters, combining marks (needed by Indic and other scripts) and decimal digits.
        if category[0] not in "LM" and category != "Nd":
            return False
    return True


def account_problem(name: object) -> str | None:
    """Why `name` is not a valid (already NFC-normalised) account name, or None."""
    if not isinstance(name, str) or not name:
        return "invalid account name: it is empty"
    if len(name) > MAX_ACCOUNT:
        return f"invalid account name {name[:40]!r}…: longer than {MAX_ACCOUNT} characters"
    if unicodedata.normalize("NFC", name) != name:
        return f"invalid account name {name!r}: not in Unicode NFC form"
    if not all(_segment_ok(segment) for segment in name.split(":")):
        return (
            f"invalid account name {name!r}: use letters, digits, '_', '-' and '.' in "
            "segments joined by ':' (no empty segment, none starting with '-')"
        )
    return None


def parse_account(text: str) -> str:
    """The NFC form of an account name typed by a user, or InvalidValue (exit 2)."""
    name = unicodedata.normalize("NFC", text)
    problem = account_problem(name)
    if problem is not None:
        raise InvalidValue(problem)
    return name


def memo_problem(memo: object) -> str | None:
    if not isinstance(memo, str):
        return "invalid memo: not text"
    if len(memo) > MAX_MEMO:
        return f"invalid memo: longer than {MAX_MEMO} characters"
    if memo.isprintable():  # printable excludes every refused category: the common case, in C
        return None
    for char in memo:
        if unicodedata.category(char) in _REFUSED_IN_TEXT:
            return f"invalid memo: it contains the control or format character U+{ord(char):04X}"
    return None


def parse_memo(text: str | None) -> str | None:
    """A memo as recorded (None when empty), or InvalidValue (exit 2)."""
    if text is None or text == "":
        return None
    problem = memo_problem(text)
    if problem is not None:
        raise InvalidValue(problem)
    return text


def key_problem(key: object) -> str | None:
    if not isinstance(key, str) or not key:
        return "invalid idempotency key: it is empty"
    if len(key) > MAX_KEY:
        return f"invalid idempotency key: longer than {MAX_KEY} characters"
    if not key.isprintable():
        return "invalid idempotency key: only printable characters are allowed"
    return None


def parse_key(text: str | None) -> str | None:
    if text is None:
        return None
    problem = key_problem(text)
    if problem is not None:
        raise InvalidValue(problem)
    return text


def covers(prefix: str, account: str) -> bool:
    """Whether `prefix` names `account` or one of its ancestors (assets covers assets:bank)."""
    return account == prefix or account.startswith(prefix + ":")
