"""The optional C extension (ledger_cli/_native.c), found once per process.

Everything it does has a pure-Python twin that the tests hold it to; where it is not built
(no C compiler at install time) or LEDGER_CLI_NATIVE=0 is set, the twins do the work.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

API = 8  # what this code expects of the extension (its API constant; see _native.c)
_found: list[ModuleType | None] = []  # [the module, or None]; tests may set it


def native() -> ModuleType | None:
    """ledger_cli._native, or None when it is not built, is a stale build of other sources
    (its API differs), or is turned off."""
    if not _found:
        found: ModuleType | None = None
        if os.environ.get("LEDGER_CLI_NATIVE", "1") != "0":
            try:
                from ledger_cli import _native as found
            except ImportError:
                found = None
            if found is not None and getattr(found, "API", None) != API:
                found = None
        _found.append(found)
    return _found[0]
