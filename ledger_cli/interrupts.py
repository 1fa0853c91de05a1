"""Ctrl-C (SIGINT) and SIGTERM around the durable write: either nothing is recorded, or the
command reports what it recorded.

From the moment a write starts, both signals are blocked: held pending, not lost. The writer
looks for a held one between the pieces of a long write and before the fsync, and then undoes
the write and lets it in (exit 130, nothing recorded). Once the fsync returned the events are
durable: the command finishes, prints its confirmation, and a held signal is dropped with a note
(exit 0), so a retry never records the same thing twice. This is active only between
begin() and end() (the CLI's one boundary, actions.guarded); a library caller keeps Python's usual
behaviour. In the `ledger` program itself (for_process), the signals stay held after a durable
write until the process exits, which discards them: a signal that comes after the confirmation
was printed cannot turn it into a non-zero exit either.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_CAN_BLOCK = hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigtimedwait")


class _State:
    process = False  # this process is the `ledger` program: it exits right after the command
    active = False  # inside a command run by the CLI
    writing = False  # a write lock was taken: an interrupt means "nothing was recorded"
    held = False  # the signals are blocked
    durable = False  # events were fsynced: the command must report success


_state = _State()


def for_process() -> None:
    """This process runs one command and exits: after a durable write the signals stay held
    until the exit, which discards them (no window after the confirmation where one could
    still turn a recorded event into a non-zero exit or a traceback)."""
    _state.process = True


def begin() -> None:
    """A command starts (the CLI's boundary)."""
    _state.active, _state.writing, _state.held, _state.durable = True, False, False, False


def writing() -> None:
    """The command takes the write lock."""
    _state.writing = True


def was_writing() -> bool:
    return _state.writing


def hold() -> None:
    """A write is about to start: hold SIGINT and SIGTERM until the command has reported."""
    if _state.active and not _state.held and _CAN_BLOCK:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        _state.held = True


def pending() -> bool:
    """Whether a held signal is waiting (the write is not durable yet: give up)."""
    return _state.held and not _state.durable and bool(signal.sigpending() & set(_SIGNALS))


def durable() -> None:
    """The write reached the disk."""
    _state.durable = True


def end() -> bool:
    """The command is done: let the signals in again. Returns whether one held after the durable
    point was dropped. One held before it is delivered now (SIGINT: KeyboardInterrupt)."""
    dropped = False
    if _state.held and _state.durable:
        while signal.sigpending() & set(_SIGNALS):
            signal.sigtimedwait(_SIGNALS, 0)
            dropped = True
    held = _state.held
    _state.active = False
    if held and not (_state.durable and _state.process):
        _state.held = False
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    return dropped


@contextmanager
def aside() -> Iterator[None]:
    """A write that is not the command's own (a local copy of a database's lines, a cache): it
    neither holds the signals for the command nor makes the command's write durable, and a
    Ctrl-C during it is Python's usual KeyboardInterrupt (the copy undoes its partial write)."""
    saved = (_state.active, _state.writing, _state.durable)
    _state.active = False
    try:
        yield
    finally:
        _state.active, _state.writing, _state.durable = saved
