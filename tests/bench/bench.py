"""Benchmark for issue 4: start-up, cold replay, memory, checkpoints, import, and Ledger 3 beside us.

Run with the project's venv python (it drives the `ledger` script next to sys.executable):

    python tests/bench/bench.py [--quick] [--sizes 0,100000,1000000] [--profile] [--only issue4|issue9]

Sections 1-6 are the figures of issues 4 and 8; section 7 those of issue 9 (shaped logs,
reverse and keyed retries on a big log, history into a pipe), which `--only issue9` runs alone.

Logs of each size are generated in-process (ledger_cli.codec.seal, valid hash chain) and
cached under tests/bench/out/ (git-ignored) together with an equivalent Ledger 3 journal and
an import file. Every figure is the median of several runs, measured side by side in one run
(interleaved round-robin, so drifting load from other processes hits both sides alike).
Peak RSS comes from os.wait4 (ru_maxrss, KiB on Linux). The table goes to stdout and to
tests/bench/out/results.md. Nothing here asserts: it is run by hand, not by pytest.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
WORK = OUT / "work"
GENERATOR_VERSION = 2  # bump when the generated logs change, so caches are rebuilt (2: schema v2, dated)
SEED = 20240101
N_ACCOUNTS = 1000
GROUPS = ("assets:bank", "assets:cash", "expenses:food", "expenses:rent", "income:salary", "savings")
PYTHON = Path(sys.executable)
LEDGER = PYTHON.parent / "ledger"
LEDGER3 = Path("/usr/bin/ledger")
MIB = 1024  # ru_maxrss is in KiB
ONLY = ("issue4", "issue9", "issue10", "issue11", "issue12", "issue13")  # --only: sections 1-6, 7, 8, 9, 10, 11


# ---- building the inputs --------------------------------------------------------------------


def account_names(n: int) -> list[str]:
    return [f"{GROUPS[i % len(GROUPS)]}:a{i:04d}" for i in range(n)]


def fmt_cents(cents: int) -> str:
    whole, frac = divmod(cents, 100)
    return str(whole) if frac == 0 else f"{whole}.{frac:02d}"


def plan(size: int, seed: int):
    """Yield (kind, account, to, cents, memo, key) commands that never break a ledger rule.

    Half the accounts are opened explicitly first; the others are opened by their first
    deposit or incoming transfer. Then 40% deposits, 25% withdrawals, 35% transfers, with
    withdrawals and transfers never more than the source holds. ~10% carry a memo (some
    non-ASCII), 1% an idempotency key.
    """
    rng = random.Random(seed)
    n_acc = max(2, min(N_ACCOUNTS, size // 10))
    names = account_names(n_acc)
    balance = dict.fromkeys(names, 0)
    known: list[str] = []
    n_open = min(n_acc // 2, size)
    for i in range(n_open):
        known.append(names[i])
        yield "open", names[i], None, 0, None, None
    known_set = set(known)
    for i in range(size - n_open):
        r = rng.random()
        memo = None
        if r < 0.10:
            memo = f"invoice {rng.randrange(100000)}" if r < 0.08 else f"café № {rng.randrange(1000)}"
        key = f"bench-{i}" if rng.random() < 0.01 else None
        pick = rng.random()
        source = rng.choice(known) if known else None
        if pick >= 0.40 and source is not None and balance[source] > 0:
            cents = rng.randint(1, min(balance[source], 50_000))
            balance[source] -= cents
            if pick < 0.65:
                yield "withdraw", source, None, cents, memo, key
                continue
            to = rng.choice(names)
            if to == source:
                to = names[(names.index(source) + 1) % n_acc]
            if to not in known_set:
                known_set.add(to)
                known.append(to)
            balance[to] += cents
            yield "transfer", source, to, cents, memo, key
            continue
        account = rng.choice(names)
        if account not in known_set:
            known_set.add(account)
            known.append(account)
        cents = rng.randint(100, 100_000)
        balance[account] += cents
        yield "deposit", account, None, cents, memo, key


EVENT_TYPE = {"open": "account_opened", "deposit": "deposited", "withdraw": "withdrawn", "transfer": "transferred"}


def log_paths(size: int, flavour: str = "") -> tuple[Path, Path, Path]:
    """The log, metadata and journal of `size` events; flavour "" (v2, dated by ts), "v1" or "backdated"."""
    stem = OUT / f"log-{size}{'-' + flavour if flavour else ''}-g{GENERATOR_VERSION}"
    return stem.with_suffix(".jsonl"), stem.with_suffix(".meta.json"), stem.with_suffix(".journal")


BACKDATED = 0.01  # the "backdated" flavour: this share of the deposits is dated 1-60 days before its ts
BACKDATE_DAYS = 60


def build_log(size: int, flavour: str = "") -> dict:
    """Write (or reuse) the log of `size` events, its Ledger 3 journal and a metadata file.

    The plain log is schema v2 with each event dated by its ts (the bench runs with TZ=UTC);
    "v1" is the same events as v1 lines (no date); "backdated" dates 1% of the events 1-60
    days before the day they were recorded (deposits only, so no rule by date can break).
    """
    log, meta_path, journal = log_paths(size, flavour)
    if log.exists() and meta_path.exists() and journal.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("events") == size and log.stat().st_size == meta.get("bytes"):
            return meta
    from ledger_cli.codec import seal
    from ledger_cli.events import GENESIS, Event

    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED ^ size)
    epoch = dt.datetime(2024, 1, 1)
    micros = 0
    prev = GENESIS
    balances: dict[str, int] = {}
    mid_seq = max(1, size // 2)
    mid_ts = None
    backdated = 0
    dates = random.Random(SEED ^ size ^ 0xDA7E)
    tmp_log, tmp_journal = Path(f"{log}.tmp"), Path(f"{journal}.tmp")
    with (
        open(tmp_log, "wb", buffering=1 << 20) as out,
        open(tmp_journal, "w", encoding="utf-8", buffering=1 << 20) as jr,
    ):
        jr.write("; generated by tests/bench/bench.py: the same money movements as " + log.name + "\n")
        for seq, (kind, account, to, cents, memo, key) in enumerate(plan(size, SEED + size), start=1):
            micros += rng.randrange(0, 60_000_000)  # 0 sometimes: equal ts is allowed
            when = epoch + dt.timedelta(microseconds=micros)
            ts = when.isoformat(timespec="microseconds") + "Z"
            amount = fmt_cents(cents) if cents else None
            booked = when
            if flavour == "backdated" and kind == "deposit" and dates.random() < BACKDATED / 0.4:
                booked = when - dt.timedelta(days=dates.randint(1, BACKDATE_DAYS))
                backdated += 1
            ev = Event(
                type=EVENT_TYPE[kind], seq=seq, id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                ts=ts, prev=prev, account=account, to=to, amount=amount, memo=memo, key=key,
                **({"v": 1} if flavour == "v1" else {"date": booked.strftime("%Y-%m-%d")}),
            )  # fmt: skip
            out.write(seal(ev))
            prev = ev.hash
            if seq == mid_seq:
                mid_ts = ts
            day = booked.strftime("%Y-%m-%d") if seq == 1 or kind != "open" else ""
            if kind == "open":
                balances.setdefault(account, 0)
                continue
            payee = f"{kind}{' | ' + memo if memo else ''}"
            if kind == "deposit":
                jr.write(f"{day} * {payee}\n    {account}  {amount}\n    equity:deposits\n\n")
                balances[account] = balances.get(account, 0) + cents
            elif kind == "withdraw":
                jr.write(f"{day} * {payee}\n    {account}  -{amount}\n    equity:withdrawals\n\n")
                balances[account] -= cents
            else:
                jr.write(f"{day} * {payee}\n    {to}  {amount}\n    {account}\n\n")
                balances[account] -= cents
                balances[to] = balances.get(to, 0) + cents
    os.replace(tmp_log, log)
    os.replace(tmp_journal, journal)
    ranked = sorted(balances, key=balances.__getitem__, reverse=True)
    meta = {
        "events": size,
        "bytes": log.stat().st_size,
        "head": prev,
        "mid_seq": mid_seq,
        "mid_ts": mid_ts,
        "rich": ranked[0] if ranked else None,
        "other": ranked[1] if len(ranked) > 1 else None,
        "accounts": len(balances),
        "backdated": backdated,
        "first_day": epoch.strftime("%Y-%m-%d"),
        "last_day": (epoch + dt.timedelta(microseconds=micros)).strftime("%Y-%m-%d"),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def build_import_file(size: int) -> Path:
    """A JSONL batch of `size` commands (contract §4 `ledger import`), valid on an empty log."""
    path = OUT / f"import-{size}-g{GENERATOR_VERSION}.jsonl"
    if path.exists():
        return path
    tmp = Path(f"{path}.tmp")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(tmp, "w", encoding="utf-8", buffering=1 << 20) as out:
        for kind, account, to, cents, memo, key in plan(size, SEED + size + 1):
            record: dict[str, str] = {"type": kind, "account": account}
            if to is not None:
                record["to"] = to
            if cents:
                record["amount"] = fmt_cents(cents)
            if memo is not None:
                record["memo"] = memo
            if key is not None:
                record["key"] = key
            out.write(dumps(record) + "\n")
    os.replace(tmp, path)
    return path


# Issue 9: logs of the same size as the plain one, each stressing one shape of event.
SHAPE_VERSION = 2  # bump when the shaped logs change, so their caches are rebuilt (2: schema v2)
SHAPES = {
    "quotes": 'every memo with quotes and backslashes (`say "hi" C:\\path\\x`)',
    "unicode": "every memo non-ASCII (`café – 日本 ✓`)",
    "keys": "every event with a unique idempotency key",
    "reversals": "1% reversals of earlier movements",
    "reopen": "an account closed and reopened every ~50 events",
}


def shaped_plan(size: int, seed: int, shape: str):
    """Yield (kind, account, to, cents, memo, key, target) commands of `size` events that never break a rule.

    The mix of plan() (half the accounts opened first, then 40% deposits, 25% withdrawals, 35%
    transfers, ~10% memos, 1% keys), with one shape laid over it:
    - quotes / unicode: every event (opens included) carries a memo, with `"` and `\\` / non-ASCII;
    - keys: every event carries a unique key (`k-<seq>`) instead of 1% of them;
    - reversals: 1% of events reverse an earlier movement that is not reversed yet, picked
      uniformly over the whole history so far (one whose undoing the balances allow);
    - reopen: every 50th event closes an open account (after a withdrawal of all it holds when
      it holds anything), and each closed account is reopened with `open` 25–75 events later;
      closed accounts are never touched in between.
    """
    rng = random.Random(seed)
    n_acc = max(2, min(N_ACCOUNTS, size // 10))
    names = account_names(n_acc)
    balance = dict.fromkeys(names, 0)
    known: list[str] = []
    known_set: set[str] = set()
    closed: set[str] = set()
    reopen_at: list[tuple[int, str]] = []  # (seq, account), in seq order
    movements: list[tuple[int, str, str, str | None, int]] = []  # not reversed yet (reversals shape)
    pending: list[tuple[str, str, str | None, int, int | None]] = []  # forced next events
    n_open = min(n_acc // 2, size)

    def pick(choices: list[str], avoid: str | None = None) -> str:
        name = rng.choice(choices)
        while name in closed or name == avoid:
            name = rng.choice(choices)
        return name

    for seq in range(1, size + 1):
        r = rng.random()
        memo = None
        if r < 0.10:
            memo = f"invoice {rng.randrange(100000)}" if r < 0.08 else f"café № {rng.randrange(1000)}"
        key = f"bench-{seq}" if rng.random() < 0.01 else None
        if shape == "quotes":
            memo = f'say "hi" C:\\path\\x{seq % 1000} \\"q\\"'
        elif shape == "unicode":
            memo = f"café – 日本 ✓ {seq % 1000} ünïcødé"
        elif shape == "keys":
            key = f"k-{seq}"
        target = None
        if seq <= n_open:
            kind, account, to, cents = "open", names[seq - 1], None, 0
            known.append(account)
            known_set.add(account)
        elif pending:
            kind, account, to, cents, target = pending.pop()
        elif reopen_at and reopen_at[0][0] <= seq:
            kind, account, to, cents = "open", reopen_at.pop(0)[1], None, 0
            closed.discard(account)
        elif shape == "reopen" and seq % 50 == 0 and len(closed) < len(known) - 2:
            account = pick(known)
            closed.add(account)
            reopen_at.append((seq + rng.randint(25, 75), account))
            if balance[account] > 0:
                kind, to, cents = "withdraw", None, balance[account]
                balance[account] = 0
                pending.append(("close", account, None, 0, None))
            else:
                kind, to, cents = "close", None, 0
        else:
            kind = ""
            if shape == "reversals" and movements and rng.random() < 0.0102:  # a few picks fail
                for _ in range(8):
                    i = rng.randrange(len(movements))
                    t_seq, t_kind, t_account, t_to, t_cents = movements[i]
                    # undoing: a deposit debits its account, a withdrawal credits it back, a
                    # transfer moves the money from `to` back to `account` (domain.reversal_of)
                    debit = t_account if t_kind == "deposit" else (t_to if t_kind == "transfer" else None)
                    if debit is not None and balance[debit] < t_cents:
                        continue
                    movements[i] = movements[-1]
                    movements.pop()
                    credit = t_account if t_kind != "deposit" else None
                    if debit is not None:
                        balance[debit] -= t_cents
                    if credit is not None:
                        balance[credit] += t_cents
                    kind, account, to, cents, target = "reverse", debit, credit, t_cents, t_seq
                    break
            if not kind:
                choice = rng.random()
                source = pick(known) if len(known) > len(closed) else None
                if choice >= 0.40 and source is not None and balance[source] > 0:
                    cents = rng.randint(1, min(balance[source], 50_000))
                    balance[source] -= cents
                    account = source
                    if choice < 0.65:
                        kind, to = "withdraw", None
                    else:
                        kind, to = "transfer", pick(names, avoid=source)
                        if to not in known_set:
                            known_set.add(to)
                            known.append(to)
                        balance[to] += cents
                else:
                    kind, account, to = "deposit", pick(names), None
                    if account not in known_set:
                        known_set.add(account)
                        known.append(account)
                    cents = rng.randint(100, 100_000)
                    balance[account] += cents
                if shape == "reversals":
                    movements.append((seq, kind, account, to, cents))
        yield kind, account, to, cents, memo, key, target


SHAPED_TYPE = {**EVENT_TYPE, "close": "account_closed", "reverse": "reversed"}


def shaped_paths(size: int, shape: str) -> tuple[Path, Path]:
    stem = OUT / f"shaped-{shape}-{size}-s{SHAPE_VERSION}"
    return stem.with_suffix(".jsonl"), stem.with_suffix(".meta.json")


def build_shaped_log(size: int, shape: str) -> dict:
    """Write (or reuse) the log of `size` events of `shape` (hash chain as build_log's) and its metadata."""
    log, meta_path = shaped_paths(size, shape)
    if log.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("events") == size and log.stat().st_size == meta.get("bytes"):
            return meta
    from ledger_cli.codec import seal
    from ledger_cli.events import GENESIS, Event

    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED ^ size ^ len(shape))
    epoch = dt.datetime(2024, 1, 1)
    micros = 0
    prev = GENESIS
    kinds: dict[str, int] = {}
    tmp_log = Path(f"{log}.tmp")
    with open(tmp_log, "wb", buffering=1 << 20) as out:
        plan_ = shaped_plan(size, SEED + size + 2, shape)
        for seq, (kind, account, to, cents, memo, key, target) in enumerate(plan_, start=1):
            micros += rng.randrange(0, 60_000_000)
            ts = (epoch + dt.timedelta(microseconds=micros)).isoformat(timespec="microseconds") + "Z"
            ev = Event(
                type=SHAPED_TYPE[kind], seq=seq, id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), ts=ts,
                prev=prev, account=account, to=to, amount=fmt_cents(cents) if cents else None, memo=memo, key=key,
                target=target, date=ts[:10],
            )  # fmt: skip
            out.write(seal(ev))
            prev = ev.hash
            kinds[kind] = kinds.get(kind, 0) + 1
    os.replace(tmp_log, log)
    meta = {
        "events": size,
        "shape": shape,
        "bytes": log.stat().st_size,
        "head": prev,
        "kinds": kinds,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


# ---- running commands ----------------------------------------------------------------------


def child_env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on some machines) would make every run compile every module
    # from source: a user's installed package has its bytecode cached, so measure that.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_CLI_", "LEDGER_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(NO_COLOR="1", TZ="UTC", LC_ALL="C.UTF-8")
    return env


ENV = child_env()


@dataclass
class Run:
    seconds: float
    rss_kib: int
    rc: int
    stderr: str
    cpu: float = 0.0  # user + system seconds of the child: less sensitive to other load than wall time
    first_line: float = 0.0  # pipe modes: seconds until the first whole line came out (0: none)
    out_bytes: int = 0  # pipe modes: bytes read from the child's stdout
    out_lines: int = 0


# Peak RSS: Linux carries the high-water mark of the pre-exec address space into the exec'd
# program's ru_maxrss (fork and vfork alike), so a child spawned by this big process would
# report at least this process's RSS. Commands are therefore spawned by a tiny runner
# (`python -I -S`, about 8 MiB, less than any Python command it measures); its own floor
# is reported as the `/bin/true` line of the detailed table.
# Modes: `null` (stdout on /dev/null), `pipe` (stdout to a pipe the runner reads to the end and
# discards, counting lines) and `head` (the runner reads until the first newline, then closes
# the pipe, as `| head -1` does, and waits for the child to exit).
RUNNER = r"""
import os, sys, time
env = dict(os.environ)
devnull = os.open(os.devnull, os.O_RDWR)
for line in sys.stdin.buffer:
    parts = line.rstrip(b"\n").split(b"\0")
    mode, argv = parts[0], parts[2:]
    err = os.open(parts[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    read_end, out = (None, devnull) if mode == b"null" else os.pipe()  # both ends close-on-exec
    acts = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
    first = nbytes = lines = 0
    started = time.perf_counter_ns()
    try:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=acts)
        if read_end is not None:
            os.close(out)
            out = None
            while chunk := os.read(read_end, 1 << 20):
                nbytes += len(chunk)
                lines += chunk.count(b"\n")
                if lines and not first:
                    first = time.perf_counter_ns() - started
                    if mode == b"head":
                        break
            os.close(read_end)
            read_end = None
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter_ns() - started
        cpu = round((usage.ru_utime + usage.ru_stime) * 1e9)
        reply = f"{elapsed} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu} {first} {nbytes} {lines}"
    except OSError as exc:
        os.write(err, str(exc).encode())
        reply = "0 0 127 0 0 0 0"
    for fd in (read_end, out):
        if fd is not None and fd != devnull:
            os.close(fd)
    os.close(err)
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
"""
_runner: subprocess.Popen[bytes] | None = None


def run_once(argv: Sequence[str | Path], mode: str = "null") -> Run:
    """One run of argv (stdin /dev/null; stdout /dev/null, or a pipe in `mode` pipe or head, see
    RUNNER): wall time around spawn..wait4, peak RSS."""
    global _runner
    if _runner is None:
        _runner = subprocess.Popen(
            [PYTHON, "-I", "-S", "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ENV
        )
    assert _runner.stdin is not None and _runner.stdout is not None
    err_path = WORK / "stderr.txt"
    _runner.stdin.write(b"\0".join(os.fsencode(a) for a in (mode, err_path, *argv)) + b"\n")
    _runner.stdin.flush()
    reply = _runner.stdout.readline().split()
    if len(reply) != 7:
        raise RuntimeError("the measuring runner died")
    elapsed_ns, rss_kib, rc, cpu_ns, first_ns, nbytes, lines = (int(x) for x in reply)
    tail = err_path.read_bytes()[-400:].decode("utf-8", "replace").strip()
    return Run(elapsed_ns / 1e9, rss_kib, rc, tail, cpu_ns / 1e9, first_ns / 1e9, nbytes, lines)


@dataclass
class Stat:
    label: str
    runs: list[Run] = field(default_factory=list)
    events: int | None = None  # for events/s

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.rc == 0 for r in self.runs)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def first_line(self) -> float:
        return statistics.median(r.first_line for r in self.runs)

    @property
    def best(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def rss_mib(self) -> float:
        return max(r.rss_kib for r in self.runs) / MIB

    @property
    def rate(self) -> float | None:
        return self.events / self.median if self.events and self.ok else None

    def failure(self) -> str:
        bad = next((r for r in self.runs if r.rc != 0), None)
        return f"exit {bad.rc}: {bad.stderr[-200:]}" if bad else ""


ALL: list[Stat] = []  # every measurement, for the detailed table


def interleaved(
    commands: dict[str, Sequence[str | Path] | Callable[[], Sequence[str | Path]]],
    runs: int,
    *,
    warmup: int = 1,
    before: Callable[[str], None] | None = None,
    events: dict[str, int] | None = None,
    mode: str = "null",
) -> dict[str, Stat]:
    """Run each command `runs` times round-robin (after `warmup` untimed rounds). A command given
    as a callable is called before each run for that run's argv."""
    stats = {label: Stat(label, events=(events or {}).get(label)) for label in commands}
    for round_ in range(warmup + runs):
        for label, argv in commands.items():
            if before is not None:
                before(label)
            result = run_once(argv() if callable(argv) else argv, mode)
            if round_ >= warmup:
                stats[label].runs.append(result)
            elif result.rc != 0:  # a failing warm-up: record it so the table says so
                stats[label].runs.append(result)
    ALL.extend(stats.values())
    return stats


def ledger(log: Path, *args: str | Path) -> list[str | Path]:
    return [LEDGER, "-f", log, *args]


def fresh(log: Path) -> None:
    """Remove a log and everything derived from it (lock, cache, torn tail)."""
    for extra in ("", ".lock", ".torn"):
        Path(str(log) + extra).unlink(missing_ok=True)
    shutil.rmtree(str(log) + ".cache", ignore_errors=True)


# ---- the report ----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def per_s(rate: float | None) -> str:
    return "—" if rate is None else f"{rate / 1000:,.0f}k ev/s"


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (f"{n // 1000}k" if n >= 1000 else str(n))


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str, str]] = []

    def add(self, figure: str, ours: str, ref: str = "—", ratio: str = "—", target: str = "—", met: bool | None = None):
        self.rows.append((figure, ours, ref, ratio, target, "n/a" if met is None else ("yes" if met else "**no**")))

    def ratio_row(self, figure: str, ours: Stat, ref: Stat, limit: float, target: str) -> None:
        if not ours.ok or not ref.ok:
            self.add(figure, "failed: " + (ours.failure() or ref.failure()), "", "", target, False)
            return
        r = ours.median / ref.median
        self.add(figure, ms(ours.median), f"{ms(ref.median)} ({ref.label})", f"{r:.2f}×", target, r <= limit)

    def markdown(self) -> str:
        head = ("figure", "ours (median)", "reference", "ratio", "target", "met?")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in self.rows]
        return "\n".join(lines)


def details() -> str:
    lines = ["| command | runs | median | min | median CPU | peak RSS | exit |", "|---|---|---|---|---|---|---|"]
    for s in ALL:
        if not s.runs:
            continue
        rcs = ",".join(sorted({str(r.rc) for r in s.runs}))
        cells = (s.label, str(len(s.runs)), ms(s.median), ms(s.best), ms(s.cpu), f"{s.rss_mib:.1f} MiB", rcs)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = "?"
    try:
        line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        kib = int(line.split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (
        f"nproc {affinity} · CPU {model} · RAM {mem} · Python {platform.python_version()} "
        f"({PYTHON}) · {platform.system()} {platform.release()} · C extension {extension()}"
    )


def extension() -> str:
    """Whether the measured `ledger` runs with the C extension (built, current, not turned off)."""
    probe = "from ledger_cli import accel; print('on' if accel.native() is not None else 'off')"
    done = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ---- the benchmark -------------------------------------------------------------------------


def tail_events(log: Path, nbytes: int) -> list[dict]:
    """The events of the last `nbytes` of a log (whole lines only), in file order."""
    with open(log, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        f.seek(max(0, end - nbytes))
        data = f.read()
    lines = data.split(b"\n")[:-1]
    if end > nbytes:
        lines = lines[1:]  # a partial first line
    return [json.loads(line) for line in lines]


def reversible_deposits(log: Path, count: int, tail_bytes: int = 4 << 20) -> list[int]:
    """Seqs of `count` deposits near the end of `log` (latest first) that `reverse` accepts one
    after another: not reversed, and the account's balance now covers all picked from it."""
    from decimal import Decimal

    done = subprocess.run([LEDGER, "-f", log, "balance", "--format", "json"], capture_output=True, text=True, env=ENV)
    if done.returncode != 0:
        raise RuntimeError(f"`ledger balance` of {log} failed: {done.stderr[-500:]}")
    books = json.loads(done.stdout)["accounts"]
    left = {a["account"]: Decimal(a["balance"]) for a in books if a.get("open", True)}
    events = tail_events(log, tail_bytes)
    reversed_ = {ev["target"] for ev in events if ev["type"] == "reversed"}
    picked: list[int] = []
    for ev in reversed(events):
        amount = Decimal(ev.get("amount", 0))
        if ev["type"] == "deposited" and ev["seq"] not in reversed_ and left.get(ev["account"], 0) >= amount:
            left[ev["account"]] -= amount
            picked.append(ev["seq"])
            if len(picked) == count:
                break
    return picked


def issue9_sections(
    table: Table, big_sizes: list[int], short_runs: int, long_runs: int, say: Callable[[str], None]
) -> int:
    """Section 7 (issue 9): shaped logs, reverse and keyed retries on a big log, history into a pipe."""
    if not big_sizes:
        say("issue 9: no log size above 0 asked for; skipped")
        return 0
    size = big_sizes[-1]
    tag = human(size)
    plain = log_paths(size)[0]
    first_stat = len(ALL)

    # 7a. shaped logs of the plain log's size: cold balance and verify beside the plain log.
    shaped: dict[str, Path] = {}
    for shape, what in SHAPES.items():
        say(f"issue 9: building the {tag} log with {what} (cached under {OUT.name}/)")
        meta = build_shaped_log(size, shape)
        log = shaped_paths(size, shape)[0]
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(meta["kinds"].items()))
        say(f"  {meta['bytes'] / 2**20:.0f} MiB ({kinds}); checking it with `ledger verify --json`")
        result = subprocess.run([LEDGER, "-f", log, "verify", "--json"], capture_output=True, text=True, env=ENV)
        report = json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else {}
        if not (report.get("ok") and report.get("events") == size and report.get("head") == meta["head"]):
            rc = result.returncode
            why = "does not verify" if rc in (0, 3) else f"made `ledger verify` fail (exit {rc})"
            print(f"the generated {shape} log {log} {why}:\n{result.stdout}{result.stderr[-2000:]}", file=sys.stderr)
            return 1
        shaped[shape] = log
    say(f"issue 9: cold balance --no-cache and verify of the {tag} shaped logs beside the plain one")
    commands: dict[str, Sequence[str | Path]] = {}
    for name, log in {"plain": plain, **shaped}.items():
        commands[f"balance --no-cache, {name} {tag}"] = ledger(log, "balance", "--no-cache")
        commands[f"verify, {name} {tag}"] = ledger(log, "verify")
    cold = interleaved(commands, long_runs, warmup=0, events=dict.fromkeys(commands, size))
    for shape, what in SHAPES.items():
        for name in ("balance --no-cache", "verify"):
            ours, ref = cold[f"{name}, {shape} {tag}"], cold[f"{name}, plain {tag}"]
            table.ratio_row(f"cold `{name}`, {tag}, {what}", ours, ref, 1.5, "≤ 1.5× plain")
            if ours.ok:
                cell = f"{ms(ours.median)} ({per_s(ours.rate)}, {ours.rss_mib:.0f} MiB; plain {ref.rss_mib:.0f} MiB)"
                table.rows[-1] = (table.rows[-1][0], cell, *table.rows[-1][2:])

    # 7b. reverse and a keyed retry on (a checkpointed copy of) the big log vs a small log.
    say(f"issue 9: copying the {tag} log, then one `balance` to build its checkpoints")
    work = WORK / f"issue9-{size}.jsonl"
    fresh(work)
    shutil.copyfile(plain, work)
    small_size = 100
    build_log(small_size)
    small = WORK / "issue9-small.jsonl"
    fresh(small)
    shutil.copyfile(log_paths(small_size)[0], small)
    n = 1 + short_runs  # one warm-up round
    big_targets = reversible_deposits(work, n)  # its `balance` builds the checkpoints
    cache = Path(f"{work}.cache")
    say(f"  {len(list(cache.iterdir())) if cache.is_dir() else 'no'} checkpoint files in {cache.name}/")
    small_targets = reversible_deposits(small, n, tail_bytes=1 << 30)
    if len(big_targets) < n or len(small_targets) < n:
        print(f"not enough reversible deposits: {len(big_targets)} and {len(small_targets)} of {n}", file=sys.stderr)
        return 1
    say(f"issue 9: reverse of late deposits (seq {big_targets[-1]}…{big_targets[0]}) vs on a {small_size}-event log")
    big_iter, small_iter = iter(big_targets), iter(small_targets)
    rev = interleaved(
        {
            f"reverse of a late event, {tag}": lambda: ledger(work, "reverse", str(next(big_iter))),
            f"reverse, {small_size}-event log": lambda: ledger(small, "reverse", str(next(small_iter))),
        },
        short_runs,
    )
    table.ratio_row(
        f"`reverse` of a late event (seq {big_targets[-1]}…{big_targets[0]}), {tag} (checkpointed)",
        rev[f"reverse of a late event, {tag}"], rev[f"reverse, {small_size}-event log"], 1.5, "≤ 1.5×",
    )  # fmt: skip
    keyed = next(
        ev for ev in reversed(tail_events(plain, 4 << 20))
        if ev["type"] == "deposited" and "key" in ev and "memo" not in ev
    )  # fmt: skip
    late_by = size - keyed["seq"]
    run_once(ledger(small, "deposit", "bench:small", "1", "-k", "bench-retry"))
    sizes_before = work.stat().st_size, small.stat().st_size
    say(f"issue 9: keyed retry of seq {keyed['seq']} ({late_by} before the end) vs on a small log")
    retry = interleaved(
        {
            f"keyed retry, {tag}": ledger(work, "deposit", keyed["account"], keyed["amount"], "-k", keyed["key"]),
            f"keyed retry, {small_size}-event log": ledger(small, "deposit", "bench:small", "1", "-k", "bench-retry"),
        },
        short_runs,
    )
    grew = (work.stat().st_size, small.stat().st_size) != sizes_before
    table.ratio_row(
        f"keyed retry `deposit ACCT AMOUNT -k K`, K recorded at seq {keyed['seq']} of {tag} (checkpointed)",
        retry[f"keyed retry, {tag}"], retry[f"keyed retry, {small_size}-event log"], 1.5,
        "≤ 1.5×, nothing written",
    )  # fmt: skip
    if grew:
        figure, ours, *rest = table.rows[-1]
        table.rows[-1] = (figure, f"{ours}; **a retry wrote to the log**", *rest[:-1], "**no**")

    # 7c. the whole history as JSON Lines into a pipe that is read to the end: first of a copy
    # no ledger has read yet (held back until verified to the end), then of the plain log once
    # it is known good (sealed by a whole verified read: streamed at once).
    small_log = log_paths(small_size)[0]
    say(f"issue 9: history --format jsonl of a fresh copy of the {tag} log (not known good yet)")
    copy = WORK / f"history-copy-{size}.jsonl"
    fresh(copy)
    shutil.copyfile(plain, copy)
    os.sync()  # the copy's dirty pages written out first: they would compete with the read
    firsts = []
    for _ in range(long_runs):  # each run finds no seal: its .cache is removed before it
        shutil.rmtree(Path(f"{copy}.cache"), ignore_errors=True)
        firsts.append(run_once(ledger(copy, "history", "--format", "jsonl"), "pipe"))
    first = sorted(firsts, key=lambda run: run.seconds)[len(firsts) // 2]  # the median run
    copy.unlink()
    shutil.rmtree(Path(f"{copy}.cache"), ignore_errors=True)
    rate = size / first.seconds if all(run.rc == 0 for run in firsts) and first.seconds else None
    table.add(
        f"`history --format jsonl` of the whole {tag} log into a pipe, first read (not yet known good)",
        f"{per_s(rate)} ({ms(first.seconds)}, {first.rss_kib / 1024:.1f} MiB)" if first.rc == 0 else "failed",
        "", "", "— (shown for comparison: held back until verified to the end; the target is the next row's)", None,
    )  # fmt: skip
    run_once(ledger(plain, "balance"), "null")  # a whole verified read: the plain log is known good
    say(f"issue 9: history --format jsonl of the {tag} log into a pipe")
    big_label = f"history --format jsonl into a pipe, {tag}"
    small_label = f"history --format jsonl into a pipe, {small_size}-event log"
    hist = interleaved(
        {
            big_label: ledger(plain, "history", "--format", "jsonl"),
            small_label: ledger(small_log, "history", "--format", "jsonl"),
        },
        long_runs,
        warmup=0,
        events={big_label: size},
        mode="pipe",
    )
    whole, whole_small = hist[big_label], hist[small_label]
    figure = f"`history --format jsonl` of the whole {tag} log into a pipe"
    if not whole.ok:
        table.add(figure, "failed: " + whole.failure(), "", "", "≥ 500k ev/s", False)
    else:
        lines = whole.runs[-1].out_lines
        note = "" if lines == size else f"; **{lines} lines, expected {size}**"
        table.add(
            figure, f"{per_s(whole.rate)} ({ms(whole.median)}, {whole.runs[-1].out_bytes / 2**20:.0f} MiB out){note}",
            "", "", "≥ 500k ev/s", whole.rate is not None and whole.rate >= 500_000 and lines == size,
        )  # fmt: skip
        table.add(
            f"peak RSS, `history --format jsonl`, {tag} into a pipe", f"{whole.rss_mib:.1f} MiB",
            f"{whole_small.rss_mib:.1f} MiB ({whole_small.label})", f"{whole.rss_mib / whole_small.rss_mib:.2f}×",
            "≤ 50 MiB (flat in the log's size)", whole.rss_mib <= 50,
        )  # fmt: skip

    # 7d. `history | head -1`: the reader closes the pipe after one line.
    say(f"issue 9: history | head -1 on the {tag} log vs on a {small_size}-event log")
    head_cmds = {
        f"history, head -1, {tag}": ledger(plain, "history"),
        f"history, head -1, {small_size}-event log": ledger(small_log, "history"),
    }
    probe = run_once(head_cmds[f"history, head -1, {tag}"], "head")
    runs = short_runs if probe.seconds < 3.0 else long_runs
    heads = interleaved(head_cmds, runs, mode="head")
    big_head, small_head = heads[f"history, head -1, {tag}"], heads[f"history, head -1, {small_size}-event log"]
    whole_s = f"; the whole history: {ms(whole.median)}" if whole.ok else ""
    table.ratio_row(
        f"`history | head -1`, {tag}: exit after the reader closes the pipe", big_head, small_head, 1.5,
        f"≤ 1.5× the {small_size}-event log (does not wait for the whole log{whole_s})",
    )  # fmt: skip
    if big_head.ok and small_head.ok:
        figure, ours, ref, *rest = table.rows[-1]
        table.rows[-1] = (
            figure, f"{ours} (first line after {ms(big_head.first_line)})",
            f"{ref}, first line after {ms(small_head.first_line)}", *rest,
        )  # fmt: skip

    # 7e. peak RSS of every issue 9 command on a big log.
    big = [s for s in ALL[first_stat:] if s.runs and "-event log" not in s.label]
    if big:
        worst = max(big, key=lambda s: s.rss_mib)
        table.add(
            f"peak RSS, any issue 9 command on a {tag} log", f"{worst.rss_mib:.1f} MiB ({worst.label})", "", "",
            "≤ 50 MiB", worst.rss_mib <= 50,
        )  # fmt: skip
    return 0


def issue10_sections(
    table: Table, big_sizes: list[int], short_runs: int, long_runs: int, say: Callable[[str], None]
) -> int:
    """Section 8 (issue 10): v2 against v1 cold, and the books by date on a backdated log."""
    if not big_sizes:
        say("issue 10: no log size above 0 asked for; skipped")
        return 0
    size = big_sizes[-1]
    tag = human(size)
    first_stat = len(ALL)
    say(f"issue 10: building the {tag} v1 log and the {tag} log with 1% backdated (cached under {OUT.name}/)")
    v1_meta, back_meta = build_log(size, "v1"), build_log(size, "backdated")
    plain, v1, back = log_paths(size)[0], log_paths(size, "v1")[0], log_paths(size, "backdated")[0]
    for log, meta in ((v1, v1_meta), (back, back_meta)):
        result = subprocess.run([LEDGER, "-f", log, "verify", "--json"], capture_output=True, text=True, env=ENV)
        report = json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else {}
        if not (report.get("ok") and report.get("head") == meta["head"]):
            print(f"the generated log {log} does not verify:\n{result.stdout}{result.stderr[-2000:]}", file=sys.stderr)
            return 1
    say(f"issue 10: cold replay --no-cache of the {tag} v2 and v1 logs, interleaved")
    cold = interleaved(
        {f"replay --no-cache, v2 {tag}": ledger(plain, "replay", "--no-cache"),
         f"replay --no-cache, v1 {tag}": ledger(v1, "replay", "--no-cache")},
        max(long_runs, 5), warmup=1,
        events={f"replay --no-cache, v2 {tag}": size, f"replay --no-cache, v1 {tag}": size},
    )  # fmt: skip
    two, one = cold[f"replay --no-cache, v2 {tag}"], cold[f"replay --no-cache, v1 {tag}"]
    if two.ok and one.ok:
        ratio = two.median / one.median
        table.add(
            f"cold `replay --no-cache`, {tag} v2 events (each dated), beside the same events as v1 lines",
            f"{per_s(two.rate)} ({ms(two.median)}, {two.rss_mib:.0f} MiB)",
            f"{per_s(one.rate)} ({ms(one.median)}, v1)", f"{ratio:.2f}×", "≥ 800k ev/s and ≤ 1.1× v1",
            two.rate is not None and two.rate >= 800_000 and ratio <= 1.1,
        )  # fmt: skip
    else:
        table.add(
            f"cold `replay --no-cache`, {tag} v2", "failed: " + (two.failure() or one.failure()), "", "", "", False
        )

    work = WORK / f"issue10-{size}.jsonl"
    fresh(work)
    shutil.copyfile(back, work)
    say(f"issue 10: one balance builds the checkpoints of the backdated {tag} log")
    run_once(ledger(work, "balance"))
    small = WORK / "issue10-small.jsonl"
    fresh(small)
    first, last = back_meta["first_day"], back_meta["last_day"]
    day0 = dt.date.fromisoformat(first)
    mid = (day0 + (dt.date.fromisoformat(last) - day0) / 2).isoformat()
    late = (dt.date.fromisoformat(last) - dt.timedelta(days=10)).isoformat()
    back_day = (dt.date.fromisoformat(last) - dt.timedelta(days=30)).isoformat()
    for args in (("deposit", "bench:small", "1000", "--date", first), ("deposit", "bench:small", "5", "--date", last)):
        run_once(ledger(small, *args))
    say(f"issue 10: balance --as-of {mid} and {late}, and withdraw --date {back_day}, vs a small log")
    reads = interleaved(
        {f"balance --as-of {mid}, {tag}": ledger(work, "balance", "--as-of", mid),
         f"balance --as-of {late}, {tag}": ledger(work, "balance", "--as-of", late),
         f"balance --as-of {mid}, small log": ledger(small, "balance", "--as-of", mid),
         f"withdraw --date {back_day}, {tag}": ledger(work, "withdraw", back_meta["rich"], "0.01", "--date", back_day),
         f"withdraw --date {back_day}, small log": ledger(small, "withdraw", "bench:small", "0.01", "--date",
                                                          back_day)},
        short_runs,
    )  # fmt: skip
    for day, where in ((mid, "mid-log"), (late, "10 days before the end")):
        table.ratio_row(
            f"`balance --as-of {day}` ({where}), {tag} with {back_meta['backdated']} entries backdated 1-60 days "
            "(checkpointed)",
            reads[f"balance --as-of {day}, {tag}"], reads[f"balance --as-of {mid}, small log"], 1.5, "≤ 1.5×",
        )  # fmt: skip
    table.ratio_row(
        f"backdated `withdraw --date {back_day}` (30 days back), {tag} with 1% backdated (checkpointed)",
        reads[f"withdraw --date {back_day}, {tag}"], reads[f"withdraw --date {back_day}, small log"], 1.5,
        "≤ 1.5× (the debit held to the balance by date)",
    )  # fmt: skip
    worst = max(ALL[first_stat:], key=lambda s: s.rss_mib)
    table.add(f"peak RSS, any issue 10 command on a {tag} log", f"{worst.rss_mib:.1f} MiB ({worst.label})", "", "",
              "≤ 50 MiB", worst.rss_mib <= 50)  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and sizes 0,100000 (about a minute)")
    parser.add_argument("--sizes", help="comma-separated log sizes (default 0,100000,1000000; --quick: 0,100000)")
    parser.add_argument("--runs", type=int, help="runs of each short command (default 10, at least 10 counts)")
    parser.add_argument("--profile", action="store_true", help="also write -X importtime and cProfile reports to out/")
    parser.add_argument("--no-ledger3", action="store_true", help="skip Ledger 3 even when it is installed")
    parser.add_argument(
        "--only", choices=ONLY, help="run one part: issue4 (sections 1-6, the rows of issues 4 and 8), issue9 "
        "(section 7), issue10 (section 8), issue11 (section 9, PostgreSQL), issue12 (section 10, exports) or "
        "issue13 (section 11, the terminal), these "
        "on the biggest size only; "
        "default: all",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not LEDGER.exists():
        print(f"no ledger script at {LEDGER}: run this with the project's venv python", file=sys.stderr)
        return 2
    wanted = args.sizes or ("0,100000" if args.quick else "0,100000,1000000")
    sizes = sorted({int(s.replace("_", "")) for s in wanted.split(",")})
    big_sizes = [s for s in sizes if s > 0]
    if args.only in ("issue9", "issue10", "issue11", "issue12", "issue13"):
        big_sizes = big_sizes[-1:]  # sections 7 and 8 use only the biggest log
    short_runs = args.runs or 10
    long_runs = 3 if not args.quick else 2
    started = time.time()
    load_before = loadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    table = Table()

    def say(message: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    metas: dict[int, dict] = {}
    for size in big_sizes:
        say(f"building the {human(size)} log (cached under {OUT.name}/)")
        metas[size] = build_log(size)
        say(f"  {metas[size]['bytes'] / 2**20:.0f} MiB, {metas[size]['accounts']} accounts")

    # The generated logs must pass `ledger verify`; check one (the 100k one if asked for).
    if big_sizes:
        check = 100_000 if 100_000 in big_sizes else big_sizes[0]
        result = subprocess.run(
            [LEDGER, "-f", log_paths(check)[0], "verify", "--json"], capture_output=True, text=True, env=ENV
        )
        report = json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else {}
        if not (report.get("ok") and report.get("events") == check and report.get("head") == metas[check]["head"]):
            rc = result.returncode
            why = "does not verify" if rc in (0, 3) else f"made `ledger verify` fail (exit {rc})"
            print(f"the generated {human(check)} log {why}:\n{result.stdout}{result.stderr[-2000:]}", file=sys.stderr)
            return 1
        say(f"the {human(check)} log verifies (head {report['head'][:12]}…)")

    if args.only in (None, "issue4"):
        earlier_sections(args, table, metas, big_sizes, short_runs, long_runs, say)
    if args.only in (None, "issue9") and issue9_sections(table, big_sizes, short_runs, long_runs, say) != 0:
        return 1
    if args.only in (None, "issue11"):  # PostgreSQL: it starts its own cluster
        from bench_pg import issue11_sections

        if issue11_sections(table, big_sizes, short_runs, long_runs, say) != 0:
            return 1
    if args.only in (None, "issue10") and issue10_sections(table, big_sizes, short_runs, long_runs, say) != 0:
        return 1
    if args.only in (None, "issue12"):  # exports and bank statements
        from bench_exports import issue12_sections

        issue12_sections(table, big_sizes, say)
    if args.only in (None, "issue13"):  # the terminal conveniences
        from bench_terminal import issue13_sections

        issue13_sections(table, big_sizes, say)

    if args.profile:
        profile(big_sizes, WORK / "empty.jsonl", say)

    stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    flags = (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else "")
    header = (
        f"Measured {stamp} by `tests/bench/bench.py{flags}` "
        f"(sizes {','.join(map(str, sizes))}; {short_runs} runs of each short command, interleaved)\n\n"
        f"Machine: {machine()}\n\n"
        f"Load average before/after: {load_before} / {loadavg()} (other processes share the CPU; "
        f"ratios are measured side by side in one run to cancel most of that)\n"
    )
    every = f"<details><summary>Every measurement</summary>\n\n{details()}\n\n</details>\n"
    text = f"{header}\n{table.markdown()}\n\n{every}"
    (OUT / "results.md").write_text(text)
    print(text)
    say(f"done in {time.time() - started:.0f} s; table written to {OUT / 'results.md'}")
    return 0


def earlier_sections(args, table: Table, metas: dict[int, dict], big_sizes, short_runs, long_runs, say) -> None:
    """Sections 1-6: the rows of issues 4 and 8."""
    # 1. start-up on an empty log, beside `python -c pass` of the same venv.
    say("start-up: python -c pass, deposit and balance on an empty log")
    empty = WORK / "empty.jsonl"
    small = WORK / "small.jsonl"
    fresh(small)
    start = interleaved(
        {
            "python -c pass": [PYTHON, "-c", "pass"],
            "deposit, empty log": ledger(small, "deposit", "bench:small", "100"),
            "balance, empty log": ledger(empty, "balance"),
        },
        short_runs,
    )
    base = start["python -c pass"]
    interleaved({"/bin/true (RSS floor of the runner)": ["/bin/true"]}, 3, warmup=0)
    table.add("`python -c pass` (same venv)", ms(base.median), "", "1×", "reference")
    table.ratio_row("`deposit` on an empty log", start["deposit, empty log"], base, 5, "≤ 5× (aim 3×)")
    table.ratio_row("`balance` on an empty log", start["balance, empty log"], base, 5, "≤ 5× (aim 3×)")

    # 2. cold full replay, and memory, at every size.
    cold: dict[int, dict[str, Stat]] = {}
    for size in big_sizes:
        log = log_paths(size)[0]
        say(f"cold full replay of {human(size)} events: replay --no-cache, balance --no-cache, verify")
        probe = run_once(ledger(log, "replay", "--no-cache"))
        runs = short_runs if probe.seconds < (1.0 if args.quick else 3.0) else long_runs
        cold[size] = interleaved(
            {
                f"replay --no-cache, {human(size)}": ledger(log, "replay", "--no-cache"),
                f"balance --no-cache, {human(size)}": ledger(log, "balance", "--no-cache"),
                f"verify, {human(size)}": ledger(log, "verify"),
            },
            runs,
            warmup=0,
            events={
                f"replay --no-cache, {human(size)}": size,
                f"balance --no-cache, {human(size)}": size,
                f"verify, {human(size)}": size,
            },
        )
        for name in ("replay --no-cache", "verify"):
            s = cold[size][f"{name}, {human(size)}"]
            target = "≥ 500k/s (aim 800k)"
            if not s.ok:
                table.add(f"cold `{name}`, {human(size)} events", "failed: " + s.failure(), "", "", target, False)
            else:
                cpu_rate = size / s.cpu if s.cpu else None
                table.add(
                    f"cold `{name}`, {human(size)} events",
                    f"{per_s(s.rate)} ({ms(s.median)}; by CPU time {per_s(cpu_rate)})", "", "", target,
                    s.rate is not None and s.rate >= 500_000,
                )  # fmt: skip

    # 3. Ledger 3 side by side.
    ledger3 = None
    if not args.no_ledger3 and LEDGER3.exists():
        version = subprocess.run([LEDGER3, "--version"], capture_output=True, text=True).stdout
        ledger3 = version.splitlines()[0] if version.startswith("Ledger 3") else None
    for size in big_sizes:
        if ledger3 is None or (size > 100_000 and args.quick):
            continue
        journal = log_paths(size)[2]
        say(f"Ledger 3 `bal` over the {human(size)} journal")
        theirs_runs = 3 if size <= 100_000 else (2 if not args.quick else 1)
        theirs = interleaved({f"Ledger 3 bal, {human(size)}": [LEDGER3, "-f", journal, "bal"]}, theirs_runs, warmup=0)[
            f"Ledger 3 bal, {human(size)}"
        ]
        ours = cold[size][f"balance --no-cache, {human(size)}"]
        figure = f"cold `balance --no-cache` vs Ledger 3 `bal`, {human(size)}"
        if not theirs.ok or not ours.ok:
            table.add(figure, ours.failure() or ms(ours.median), theirs.failure() or ms(theirs.median), "", "", False)
        else:
            ratio = ours.median / theirs.median
            target = "ours/theirs ≤ 0.25 (4× faster)" if size == 100_000 else "—"
            table.add(
                figure, ms(ours.median), f"{ms(theirs.median)} (Ledger 3)", f"{ratio:.2f}×", target,
                (ratio <= 0.25) if size == 100_000 else None,
            )  # fmt: skip
            table.add(
                f"peak RSS, cold `balance` vs Ledger 3 `bal`, {human(size)}", f"{ours.rss_mib:.1f} MiB",
                f"{theirs.rss_mib:.1f} MiB (Ledger 3)", f"{ours.rss_mib / theirs.rss_mib:.2f}×", "≤ 50 MiB (ours)",
                ours.rss_mib <= 50,
            )  # fmt: skip
    if ledger3 is None:
        table.add("Ledger 3 `bal`", "n/a", "Ledger 3 not installed at /usr/bin/ledger", "", "ours ≥ 4× faster on 100k")

    # 4. checkpoints: everyday commands on the biggest log vs an empty one.
    if big_sizes:
        size = big_sizes[-1]
        meta = metas[size]
        say(f"checkpoints: copying the {human(size)} log, then one `balance` to build them")
        work = WORK / f"ckpt-{size}.jsonl"
        fresh(work)
        shutil.copyfile(log_paths(size)[0], work)
        label = f"first balance (builds checkpoints), {human(size)}"
        first_stat = interleaved({label: ledger(work, "balance")}, 1, warmup=0)[label]
        cache = Path(str(work) + ".cache")
        n_ckpt = len(list(cache.iterdir())) if cache.is_dir() else 0
        table.add(
            f"first `balance`, {human(size)}, building checkpoints", ms(first_stat.median) if first_stat.ok
            else "failed: " + first_stat.failure(), "", "", f"({n_ckpt} files in <log>.cache/)", None,
        )  # fmt: skip
        say("checkpoints: reads on the big log vs the empty log")
        mid, mid_ts = str(meta["mid_seq"]), meta["mid_ts"]
        reads = interleaved(
            {
                f"balance, {human(size)}": ledger(work, "balance"),
                "balance, empty log (again)": ledger(empty, "balance"),
                f"replay --until {mid}, {human(size)}": ledger(work, "replay", "--until", mid),
                f"replay --until {mid}, empty log": ledger(empty, "replay", "--until", mid),
                f"balance --until {mid_ts}, {human(size)}": ledger(work, "balance", "--until", mid_ts),
                f"balance --until {mid_ts}, empty log": ledger(empty, "balance", "--until", mid_ts),
            },
            short_runs,
        )
        target = "≤ 1.5×"
        table.ratio_row(
            f"`balance`, {human(size)} (checkpointed)", reads[f"balance, {human(size)}"],
            reads["balance, empty log (again)"], 1.5, target,
        )  # fmt: skip
        table.ratio_row(
            f"`replay --until {mid}` (mid-log), {human(size)}", reads[f"replay --until {mid}, {human(size)}"],
            reads[f"replay --until {mid}, empty log"], 1.5, target,
        )  # fmt: skip
        table.ratio_row(
            f"`balance --until {mid_ts}` (mid-log), {human(size)}", reads[f"balance --until {mid_ts}, {human(size)}"],
            reads[f"balance --until {mid_ts}, empty log"], 1.5, target,
        )  # fmt: skip
        say("checkpoints: writes on (a copy of) the big log vs a small log; each run appends one event")
        rich, other = meta["rich"], meta["other"]
        fresh(small)
        writes = interleaved(
            {
                f"deposit, {human(size)}": ledger(work, "deposit", rich, "1.00"),
                "deposit, small log": ledger(small, "deposit", "bench:small", "100"),
                f"withdraw, {human(size)}": ledger(work, "withdraw", rich, "0.01"),
                "withdraw, small log": ledger(small, "withdraw", "bench:small", "0.01"),
                f"transfer, {human(size)}": ledger(work, "transfer", rich, other, "0.01"),
                "transfer, small log": ledger(small, "transfer", "bench:small", "bench:other", "0.01"),
            },
            short_runs,
        )
        for name in ("deposit", "withdraw", "transfer"):
            ours, ref = writes[f"{name}, {human(size)}"], writes[f"{name}, small log"]
            table.ratio_row(f"`{name}`, {human(size)} (checkpointed)", ours, ref, 1.5, target)

    # 5. import.
    probe = subprocess.run([LEDGER, "import", "--help"], capture_output=True, text=True, env=ENV)
    n_import = big_sizes[-1] if big_sizes else 0
    figure = f"`import` of {human(n_import)} JSONL records into an empty log"
    if probe.returncode != 0:
        table.add(figure, "n/a", "`ledger import --help` failed: no import command yet", "", "≥ 100k ev/s")
    elif n_import:
        say(f"import of {human(n_import)} records into an empty log")
        batch = build_import_file(n_import)
        target_log = WORK / "imported.jsonl"
        label = f"import, {human(n_import)}"
        imp = interleaved(
            {label: ledger(target_log, "import", batch, "--format", "jsonl")},
            1 if args.quick else 2,
            warmup=0,
            before=lambda _label: fresh(target_log),
            events={label: n_import},
        )[label]
        written = 0
        if target_log.exists():
            with open(target_log, "rb") as f:
                written = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        if not imp.ok:
            table.add(figure, "failed: " + imp.failure(), "", "", "≥ 100k ev/s", False)
        else:
            note = "" if written == n_import else f"; **{written} lines written, expected {n_import}**"
            table.add(
                figure, f"{per_s(imp.rate)} ({ms(imp.median)}, {imp.rss_mib:.0f} MiB){note}", "", "", "≥ 100k ev/s",
                imp.rate is not None and imp.rate >= 100_000 and written == n_import,
            )  # fmt: skip

    # 5b. issue 8: an import that creates many accounts, and a batch of keyed retries.
    accounts = 200_000
    opens = OUT / f"opens-{accounts}.jsonl"
    if not opens.exists():
        opens.write_text("".join(f'{{"type":"open","account":"acct:{i}"}}\n' for i in range(accounts)))
    say(f"import creating {human(accounts)} accounts")
    opened_log = WORK / "opened.jsonl"
    label = f"import creating accounts, {human(accounts)}"
    made = interleaved(
        {label: ledger(opened_log, "import", opens)}, 1, warmup=0, before=lambda _label: fresh(opened_log),
        events={label: accounts},
    )[label]  # fmt: skip
    limit = 50 + accounts * 150 / (1 << 20)
    table.add(
        f"`import` creating {human(accounts)} accounts: peak RSS", f"{made.rss_mib:.0f} MiB ({ms(made.median)})",
        "", "", f"≤ 50 MiB + 150 B/account ({limit:.0f} MiB)", made.ok and made.rss_mib <= limit,
    )  # fmt: skip
    retries = 20_000
    keyed = OUT / f"keyed-{retries}.jsonl"
    if not keyed.exists():
        keyed.write_text("".join(
            json.dumps({"type": "deposit", "account": f"a{i % 100}", "amount": "1.25", "key": f"batch-{i}"}) + "\n"
            for i in range(retries)
        ))  # fmt: skip
    keyed_log = WORK / "keyed.jsonl"
    fresh(keyed_log)
    run_once(ledger(keyed_log, "import", keyed))
    say(f"import of {human(retries)} keyed retries")
    label = f"import of keyed retries, {human(retries)}"
    again = interleaved({label: ledger(keyed_log, "import", keyed)}, 2, warmup=0, events={label: retries})[label]
    table.add(
        f"`import` of {human(retries)} records already recorded under their keys", f"{per_s(again.rate)} "
        f"({ms(again.median)})", "", "", "≥ 10k records/s (no re-read of the log per key)",
        again.ok and again.rate is not None and again.rate >= 10_000,
    )  # fmt: skip

    # 6. peak RSS of every command we ran, per size.
    for size in big_sizes:
        tag = f", {human(size)}"
        ours = [s for s in ALL if s.label.endswith(tag) and not s.label.startswith("Ledger 3") and s.runs]
        if ours:
            worst = max(ours, key=lambda s: s.rss_mib)
            table.add(
                f"peak RSS, any command, {human(size)} events", f"{worst.rss_mib:.1f} MiB ({worst.label})", "", "",
                "≤ 50 MiB", worst.rss_mib <= 50,
            )  # fmt: skip
    small_stats = [s for s in ALL if ("empty log" in s.label or "small log" in s.label) and s.runs]
    if small_stats:
        worst = max(small_stats, key=lambda s: s.rss_mib)
        table.add(
            "peak RSS, any command, empty or small log", f"{worst.rss_mib:.1f} MiB ({worst.label})", "", "",
            "≤ 50 MiB", worst.rss_mib <= 50,
        )  # fmt: skip


def profile(big_sizes: list[int], empty: Path, say: Callable[[str], None]) -> None:
    """-X importtime of `balance` on an empty log, and a cProfile of a cold replay."""
    say("profile: -X importtime of balance on an empty log")
    argv = [PYTHON, "-X", "importtime", "-m", "ledger_cli", "-f", empty, "balance"]
    result = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            self_us, cum_us, name = (p.strip() for p in line[len("import time:") :].split("|"))
            rows.append((int(cum_us), int(self_us), name))
    total = sum(r[1] for r in rows)
    text = [f"-X importtime, `ledger balance` on an empty log: {len(rows)} modules, {total / 1000:.1f} ms self in all"]
    text += ["cumulative_ms  self_ms  module"]
    text += [f"{c / 1000:12.1f} {s / 1000:8.1f}  {n}" for c, s, n in sorted(rows, reverse=True)[:25]]
    (OUT / "importtime.txt").write_text("\n".join(text) + "\n")
    if big_sizes:
        size = 100_000 if 100_000 in big_sizes else big_sizes[0]
        say(f"profile: cProfile of replay --no-cache on the {human(size)} log")
        prof = OUT / f"replay-{size}.prof"
        log = log_paths(size)[0]
        argv = [PYTHON, "-m", "cProfile", "-o", prof, "-m", "ledger_cli", "-f", log, "replay", "--no-cache"]
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=ENV, check=False)
        import io
        import pstats

        buf = io.StringIO()
        stats = pstats.Stats(str(prof), stream=buf)
        stats.sort_stats("tottime").print_stats(20)
        (OUT / f"replay-{size}-profile.txt").write_text(buf.getvalue())
    say(f"profile reports written to {OUT}/importtime.txt and replay-*-profile.txt")


if __name__ == "__main__":
    sys.exit(main())
