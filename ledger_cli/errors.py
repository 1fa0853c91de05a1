"""One exception class per failure a user can meet, each carrying its exit code.

Only the command-line layer turns these into exit codes and stderr lines; the
library raises them and never prints.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RULE = 1  # refused by a ledger rule
    USAGE = 2  # bad usage or invalid input
    UNTRUSTED = 3  # the log cannot be trusted or used
    LOCKED = 4  # another writer holds the lock past the timeout
    INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)


class LedgerError(Exception):
    """Base of every expected failure; `exit_code` says how the CLI exits."""

    exit_code: ExitCode = ExitCode.UNTRUSTED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidValue(LedgerError):
    """A value given by the user breaks the contract's value rules (exit 2)."""

    exit_code = ExitCode.USAGE


class RuleViolation(LedgerError):
    """A command refused by a ledger rule: short funds, unknown account... (exit 1)."""

    exit_code = ExitCode.RULE


class LogCorrupt(LedgerError):
    """A line of the log is malformed, out of sequence or breaks the hash chain (exit 3)."""

    exit_code = ExitCode.UNTRUSTED

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


class StoreError(LedgerError):
    """The log cannot be read or written: I/O error, no permission, not a ledger log (exit 3)."""

    exit_code = ExitCode.UNTRUSTED


class LockTimeout(LedgerError):
    """Another writer held the lock longer than LEDGER_CLI_LOCK_TIMEOUT (exit 4)."""

    exit_code = ExitCode.LOCKED
