"""Helpers shared by the subprocess tests of the write path: commands, logs, seals, locks."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import BIN, run_installed

LEDGER = str(BIN / "ledger")
GENESIS = "0" * 64


def env_for(log: Path, **extra: str) -> dict[str, str]:
    """The environment of a `ledger` child process writing to `log`."""
    environment = {k: v for k, v in os.environ.items() if k not in ("LEDGER_FILE", "LEDGER_CLI_LOCK_TIMEOUT")}
    environment["LEDGER_CLI_FILE"] = str(log)
    environment.update(extra)
    return environment


def spawn(log: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start the installed `ledger` in the background (stdout/stderr captured)."""
    return subprocess.Popen(
        [LEDGER, *args], env=env_for(log), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def ok(log: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `ledger ARGS` and insist that it exits 0."""
    result = run_installed(args, log, **kwargs)
    assert result.returncode == 0, (args, result.returncode, result.stderr)
    return result


def events(log: Path) -> list[dict[str, Any]]:
    """Every complete line of the log, parsed (a torn last line is left out)."""
    data = log.read_bytes() if log.exists() else b""
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def verify_json(log: Path) -> dict[str, Any]:
    result = run_installed(["verify", "--json"], log)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    return report


def balances(log: Path) -> dict[str, Decimal]:
    result = ok(log, "balance", "--json")
    return {row["account"]: Decimal(row["balance"]) for row in json.loads(result.stdout)["accounts"]}


def assert_chain(rows: Sequence[dict[str, Any]]) -> None:
    """Seq 1..N without gaps and every prev/hash link right, recomputed per contract section 2."""
    prev = GENESIS
    for number, row in enumerate(rows, start=1):
        assert row["seq"] == number
        assert row["prev"] == prev
        body = {k: v for k, v in row.items() if k != "hash"}
        assert row["hash"] == digest(body)
        prev = row["hash"]


def canonical(fields: dict[str, Any]) -> bytes:
    """Contract section 2: sorted keys, no whitespace, non-ASCII kept as UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def seal_body(body: bytes) -> bytes:
    """A log line (newline included) for a JSON object text `body`, its hash over exactly those bytes."""
    assert body.endswith(b"}")
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def seal(fields: dict[str, Any]) -> bytes:
    """The line of `fields` (without hash) as a correct writer would write it."""
    return seal_body(canonical({k: v for k, v in fields.items() if k != "hash"}))


def rehash_from(lines: list[bytes], start: int) -> list[bytes]:
    """Re-seal lines[start:] (0-based) so every hash and prev is right again after an edit."""
    out = list(lines[:start])
    prev = json.loads(out[-1])["hash"] if out else GENESIS
    for line in lines[start:]:
        fields = json.loads(line)
        fields["prev"] = prev
        sealed = seal(fields)
        prev = json.loads(sealed)["hash"]
        out.append(sealed)
    return out


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Bounded polling: return once `condition()` holds, fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def lock_is_held(lock: Path) -> bool:
    """Whether some process holds an exclusive flock on `lock` (probed with a shared one)."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
