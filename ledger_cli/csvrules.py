"""A bank's CSV rules, in the subset of hledger's CSV rules syntax that `ledger import --rules`
reads (README, "Bank statements in"): `skip`, `separator`, `fields`, `date-format`, field
assignments (`date`, `account1`, `account2`, `amount`, `amount-in`, `amount-out`,
`description`, `comment`, `key`) with `%name`/`%N` interpolation, and `if` blocks whose
matchers (a regex on the whole record, or `%field REGEX`; several lines are ORed) set
`account2`, `description` or `comment`. Anything else is exit 2 naming the rules file's line.
"""

from __future__ import annotations

import re

from ledger_cli.errors import InvalidValue

ASSIGNABLE = ("date", "account1", "account2", "amount", "amount-in", "amount-out", "description", "comment", "key")
IN_IF = ("account2", "description", "comment")
SEPARATORS = {",": ",", ";": ";", "|": "|", "TAB": "\t", "\\t": "\t", "tab": "\t"}
_REFERENCE = re.compile(r"%(\w+|\([\w-]+\))")


class Matcher:
    """One matcher line: a case-insensitive regex on the whole record, or on `%field`."""

    def __init__(self, field: str | None, pattern: re.Pattern[str]) -> None:
        self.field, self.pattern = field, pattern

    def matches(self, record: str, values: dict[str, str]) -> bool:
        text = record if self.field is None else values.get(self.field, "")
        return self.pattern.search(text) is not None


class Block:
    def __init__(self, matchers: list[Matcher], assignments: dict[str, str]) -> None:
        self.matchers, self.assignments = matchers, assignments
        self.constant = False  # no assignment refers to a field: `values` holds them (Rules.done)
        self.values: dict[str, str] = {}


class Rules:
    def __init__(self, path: str) -> None:
        self.path = path
        self.skip = 0
        self.separator = ","
        self.fields: list[str] = []
        self.date_format = "%Y-%m-%d"
        self.assignments: dict[str, str] = {}
        self.blocks: list[Block] = []
        self.direct: list[str] = []  # the assignable fields `fields` names, in ASSIGNABLE order
        self.constant: dict[str, str] = {}  # top-level assignments without a %reference
        self.templates: dict[str, str] = {}  # and those with one
        self.numbered = True
        self.whole = True

    def done(self) -> None:
        self.direct = [name for name in ASSIGNABLE if name in self.fields]  # (values' names are fields or N)
        self.constant = {name: t.strip() for name, t in self.assignments.items() if "%" not in t}
        self.templates = {name: t for name, t in self.assignments.items() if "%" in t}
        templates = [*self.assignments.values(), *(t for block in self.blocks for t in block.assignments.values())]
        self.numbered = any(m.field is not None and m.field.isdigit() for b in self.blocks for m in b.matchers) or any(
            ref.strip("()").isdigit() for t in templates for ref in _REFERENCE.findall(t)
        )  # whether a rule names a column by number (%1): else a row's values are by name only
        self.whole = any(m.field is None for b in self.blocks for m in b.matchers)  # a matcher of the record
        for block in self.blocks:
            block.constant = all("%" not in t for t in block.assignments.values())
            block.values = {name: t.strip() for name, t in block.assignments.items()}

    def values_for(self, values: dict[str, str], record: str) -> dict[str, str]:
        """The hledger fields of one row: the top-level assignments, then every matching
        block's in order (a later one wins), each template interpolated from the row."""
        chosen = {name: values[name] for name in self.direct if name in values}
        chosen.update(self.constant)
        if self.templates:
            chosen.update({name: interpolate(template, values) for name, template in self.templates.items()})
        for block in self.blocks:
            for matcher in block.matchers:  # (ORed; a loop, not any(): this runs per row and matcher)
                field = matcher.field
                if matcher.pattern.search(record if field is None else values.get(field, "")) is not None:
                    if block.constant:
                        chosen.update(block.values)
                    else:
                        chosen.update({name: interpolate(t, values) for name, t in block.assignments.items()})
                    break
        return chosen


def interpolate(template: str, values: dict[str, str]) -> str:
    if "%" not in template:
        return template.strip()

    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip("()")
        return values.get(name, "")

    return _REFERENCE.sub(value, template).strip()


def _error(path: str, number: int, what: str) -> InvalidValue:
    return InvalidValue(f"{path} line {number}: {what}")


def parse(path: str) -> Rules:
    try:
        with open(path, encoding="utf-8-sig") as source:
            lines = source.read().splitlines()
    except OSError as exc:
        raise InvalidValue(f"cannot read the rules {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidValue(f"the rules {path} are not UTF-8 text") from None
    rules = Rules(path)
    block: Block | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped[0] in "#;*":
            block = None if not stripped else block
            continue
        indented = line[:1] in (" ", "\t")
        if block is not None and indented:
            name, _, value = stripped.partition(" ")
            if name not in IN_IF:
                raise _error(path, number, f"an if block here sets only {', '.join(IN_IF)}, not {name!r}")
            block.assignments[name] = value.strip()
            continue
        if block is not None and not block.assignments:  # another matcher line of the same if
            block.matchers.append(_matcher(path, number, stripped))
            continue
        block = None
        word, _, rest = stripped.partition(" ")
        rest = rest.strip()
        if word == "if":
            block = Block([_matcher(path, number, rest)] if rest else [], {})
            rules.blocks.append(block)
        elif word == "skip":
            if rest and not rest.isdigit():
                raise _error(path, number, f"skip takes a number of lines, not {rest!r}")
            rules.skip = int(rest) if rest else 1
        elif word == "separator":
            if rest not in SEPARATORS:
                raise _error(path, number, f"separator {rest!r}: use , ; | or TAB")
            rules.separator = SEPARATORS[rest]
        elif word == "fields":
            rules.fields = [name.strip() for name in rest.split(",")]
            if not any(rules.fields):
                raise _error(path, number, "fields names no column")
        elif word == "date-format":
            if not rest or "%" not in rest:
                raise _error(path, number, f"date-format {rest!r} is not a strptime format such as %d/%m/%Y")
            rules.date_format = rest
        elif word in ASSIGNABLE:
            rules.assignments[word] = rest
        else:
            raise _error(path, number, f"{word!r} is not a rule this import reads (see README: Bank statements in)")
    for block in rules.blocks:
        if not block.matchers or not block.assignments:
            raise InvalidValue(f"{path}: an if block needs a matcher and at least one indented assignment")
    if not rules.fields:
        raise InvalidValue(f"{path}: a fields rule must name the CSV's columns")
    rules.done()
    return rules


def _matcher(path: str, number: int, text: str) -> Matcher:
    field = None
    if text.startswith("%"):
        name, _, text = text[1:].partition(" ")
        field, text = name, text.strip()
    if text.startswith("&") or text.startswith("!"):
        raise _error(path, number, "& and ! matchers are not read by this import (several lines are ORed)")
    try:
        return Matcher(field, re.compile(text, re.IGNORECASE))
    except re.error as exc:
        raise _error(path, number, f"bad regular expression {text!r}: {exc}") from None
