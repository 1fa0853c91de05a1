"""The standard streams: messages on stderr only, output in UTF-8, closed or full ones handled.

- `prepare()` runs first: a closed descriptor 0, 1 or 2 gets /dev/null, so the log or its lock
  can never be opened as descriptor 1 or 2 and take in a stray message; a stream Python found
  closed at start-up (it sets `sys.stdout` to None) becomes one that fails with OutputError
  (stdout) or says it is closed (stdin), and a closed stderr drops what is said to it. Output
  is UTF-8 whatever the locale, as jq and git write it: the log is UTF-8, and names must not
  change with the terminal's encoding.
- `say(line)` is the only way a message is written: to stderr, or nowhere when stderr is gone,
  never to stdout (`print(file=None)` would write to stdout).
- sys.stdout is wrapped so that a failing write (a full disk, /dev/full, EIO) is OutputError,
  exit 3 with one line; a reader that went away (`| head`) stays BrokenPipeError.
"""

from __future__ import annotations

import errno
import os
import sys

from ledger_cli.errors import LedgerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class OutputError(LedgerError):
    """Standard output cannot be written: closed, full, an I/O error (exit 3)."""


def say(line: str) -> None:
    """Write one message line to stderr; drop it if stderr is closed or failing."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def warn(message: str) -> None:
    say(f"ledger: warning: {message}")


class _Closed:
    """Stands for a standard stream that was closed when the process started."""

    encoding = "utf-8"
    errors = "strict"
    closed = False

    def __init__(self, name: str) -> None:
        self.name = name

    def _fail(self, *_: object) -> Any:
        raise OutputError(f"cannot write to {self.name}: it is closed")

    write = writelines = _fail

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, f"{self.name} is closed")


class _Dropped(_Closed):
    """A closed stderr: messages go nowhere."""

    def write(self, text: str) -> int:  # type: ignore[override]
        return len(text)

    def writelines(self, lines: object) -> None:  # type: ignore[override]
        pass


def write_bytes(data: bytes) -> None:
    """UTF-8 bytes to stdout, in order with its text (a stand-in stdout takes them as text)."""
    out = sys.stdout
    if isinstance(out, Output):
        out.write_bytes(data)
    elif hasattr(out, "buffer"):
        out.flush()
        out.buffer.write(data)
    else:
        out.write(data.decode())


def stdin_closed() -> bool:
    return isinstance(sys.stdin, _Closed)


class Output:
    """sys.stdout, with a failing write (not a broken pipe) turned into OutputError."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _failed(self, exc: OSError) -> OutputError:
        discard_stdout()
        return OutputError(f"cannot write to standard output: {exc.strerror or exc}")

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def write_bytes(self, data: bytes) -> None:
        """UTF-8 bytes straight to the descriptor's buffer, after any text written before."""
        try:
            self._stream.flush()
            self._stream.buffer.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None


def discard_stdout() -> None:
    """Point descriptor 1 at /dev/null, so what is still buffered for it (and the interpreter's
    own flush at exit) goes nowhere instead of failing again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass


def _guard_descriptors() -> None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _utf8(stream: Any, errors: str) -> None:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
    if encoding not in ("utf-8", "utf8") and hasattr(stream, "reconfigure"):
        try:
            stream.reconfigure(encoding="utf-8", errors=errors)
        except (ValueError, OSError):
            pass


def prepare() -> tuple[Any, Any, Any]:
    """Set the standard streams up for a command; returns the old ones for `restore`."""
    saved = (sys.stdin, sys.stdout, sys.stderr)
    _guard_descriptors()
    if sys.stdin is None:
        sys.stdin = _Closed("standard input")
    if sys.stderr is None:
        sys.stderr = _Dropped("standard error")
    else:
        _utf8(sys.stderr, "backslashreplace")
    if sys.stdout is None:
        sys.stdout = _Closed("standard output")
    else:
        _utf8(sys.stdout, "strict")
        sys.stdout = Output(sys.stdout)
    return saved


def restore(saved: tuple[Any, Any, Any]) -> None:
    sys.stdin, sys.stdout, sys.stderr = saved


def reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone (`history --follow | head -2`,
    between events): poll reports an error on such a descriptor without writing to it."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # only the conditions always reported
        return any(flags & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, flags in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False
