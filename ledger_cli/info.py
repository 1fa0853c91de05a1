"""`ledger info`: where the books are and how that was chosen, and what they hold: size, event
count, head hash, the schema versions of their lines, the closed-through date, the cache folder
and its size, whether the C extension is in use. Text for a person, `--json` for a script."""

from __future__ import annotations

import os
import sys

from ledger_cli import config
from ledger_cli.accel import native
from ledger_cli.fastcodec import schema_versions


def chosen_by(option: str | None) -> str:
    """How the location was chosen, as resolve_path chooses it."""
    if option is not None:
        return "--file"
    if os.environ.get(config.FILE_ENV) is not None:
        return config.FILE_ENV
    return "default (the user data folder)"


def folder_size(folder: str) -> int:
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def facts(file: str | None) -> dict[str, object]:
    """What `ledger info` says, as a dict (the order of the text)."""
    from ledger_cli.actions import _ledger
    from ledger_cli.checkpoint import folder as checkpoint_folder

    location = config.resolve_path(file)
    database = config.is_database(location)
    ledger = _ledger(file)
    state = ledger.state(keys=False, dated=False)
    log = ledger.log
    if database:
        from ledger_cli.pgdriver import redact

        shown = redact(location)
        mirror = getattr(log, "_mirror", None)
        lines = None if mirror is None else mirror.path
        cache = os.path.join(config.cache_folder(), "postgres")
        size = None if lines is None or not os.path.exists(lines) else os.path.getsize(lines)
    else:
        shown, lines = os.path.abspath(location), location
        cache = checkpoint_folder(location)
        size = os.path.getsize(location) if os.path.exists(location) else 0
    module = native()
    return {
        "log": shown,
        "store": "postgresql" if database else "file",
        "chosen_by": chosen_by(file),
        "exists": state.seq > 0 or (not database and os.path.exists(location)),
        "size_bytes": size,
        "events": state.seq,
        "head": state.head if state.seq else None,
        "last_ts": state.ts,
        "schema_versions": schema_versions(lines) if lines else [],
        "accounts": len(state.balances),
        "closed_through": state.closed_through,
        "cache_folder": cache,
        "cache_bytes": folder_size(cache) if os.path.isdir(cache) else 0,
        "c_extension": module is not None,
        "c_extension_note": _extension_note(module is not None),
    }


def _extension_note(used: bool) -> str:
    if used:
        return "in use"
    if os.environ.get("LEDGER_CLI_NATIVE", "1") == "0":
        return "turned off (LEDGER_CLI_NATIVE=0)"
    return "not built: the pure-Python path does the work"


def _human(size: object) -> str:
    if not isinstance(size, int):
        return "unknown"
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def info(file: str | None, as_json: bool = False) -> int:
    found = facts(file)
    if as_json:
        import json

        sys.stdout.write(json.dumps(found, ensure_ascii=False) + "\n")
        return 0
    where = f"{found['log']} ({found['store']}, chosen by {found['chosen_by']})"
    if not found["exists"]:
        where += " — not written yet"
    versions_text = ", ".join(f"v{v}" for v in found["schema_versions"]) or "none"  # type: ignore[attr-defined]
    rows = [
        ("log", where),
        ("size", _human(found["size_bytes"])),
        ("events", str(found["events"])),
        ("head", found["head"] or "none"),
        ("last recorded", found["last_ts"] or "never"),
        ("schema versions", versions_text),
        ("accounts", str(found["accounts"])),
        ("closed through", found["closed_through"] or "nothing closed"),
        ("cache", f"{found['cache_folder']} ({_human(found['cache_bytes'])})"),
        ("C extension", found["c_extension_note"]),
    ]
    width = max(len(name) for name, _ in rows)
    sys.stdout.write("".join(f"{name + ':':<{width + 1}} {value}\n" for name, value in rows))
    return 0
