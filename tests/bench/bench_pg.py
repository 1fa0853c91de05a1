"""Section 9 of the benchmark (issue 11): the PostgreSQL store beside the file store, on a
throwaway cluster (tests/pgcluster.py) reached by a Unix socket, or the server
LEDGER_CLI_TEST_PG names. Imported by bench.py for `--only issue11`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import bench
from bench import (
    ENV,
    WORK,
    Table,
    build_import_file,
    build_log,
    fresh,
    human,
    interleaved,
    ledger,
    log_paths,
    ms,
    per_s,
    run_once,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.pgcluster import TEST_PG_ENV, Cluster, binaries, with_schema  # noqa: E402


def issue11_sections(
    table: Table, big_sizes: list[int], short_runs: int, long_runs: int, say: Callable[[str], None]
) -> int:
    size = big_sizes[-1] if big_sizes else 1_000_000
    tag = human(size)
    cluster = None
    base = os.environ.get(TEST_PG_ENV)
    if not base and binaries() is None:
        say(f"issue 11: no PostgreSQL binaries (initdb, pg_ctl) and no {TEST_PG_ENV}: skipped")
        return 0
    if not base:
        say("issue 11: starting a throwaway PostgreSQL cluster")
        cluster = Cluster()
        base = cluster.base
    cache = WORK / "pg-cache"
    ENV["XDG_CACHE_HOME"] = str(cache)  # the local copies of the stores' lines
    try:
        return _sections(table, size, tag, base, short_runs, long_runs, say)
    finally:
        ENV.pop("XDG_CACHE_HOME", None)
        if cluster is not None:
            cluster.stop()


def _sections(
    table: Table, size: int, tag: str, base: str, short_runs: int, long_runs: int, say: Callable[[str], None]
) -> int:
    small_db = with_schema(base, "bench_small")
    small_file = WORK / "issue11-small.jsonl"
    fresh(small_file)
    run_once(ledger(small_file, "deposit", "bench:a", "100"))
    run_once(ledger(small_db, "deposit", "bench:a", "100"))  # (creates the store)
    say("issue 11: deposit and balance on an empty PostgreSQL store and an empty file, interleaved")
    writes = interleaved(
        {"deposit, PostgreSQL": ledger(small_db, "deposit", "bench:a", "1"),
         "deposit, file": ledger(small_file, "deposit", "bench:a", "1"),
         "balance, PostgreSQL": ledger(small_db, "balance"),
         "balance, file": ledger(small_file, "balance")},
        short_runs,
    )  # fmt: skip
    table.ratio_row("`deposit` on PostgreSQL (loopback, Unix socket)", writes["deposit, PostgreSQL"],
                    writes["deposit, file"], 3.0, "≤ 3× the file store")  # fmt: skip
    table.ratio_row("`balance` on PostgreSQL, small store", writes["balance, PostgreSQL"], writes["balance, file"],
                    2.0, "(for comparison)")  # fmt: skip

    say(f"issue 11: building the {tag} log (cached) and copying it into PostgreSQL")
    meta = build_log(size)
    plain = log_paths(size)[0]
    big_db = with_schema(base, "bench_big")
    there = run_once([bench.LEDGER, "copy", plain, big_db])
    rate = size / there.seconds if there.rc == 0 else 0.0
    table.add(f"`ledger copy` of {tag} events, file → PostgreSQL", f"{per_s(rate)} ({ms(there.seconds)}, "
              f"{there.rss_kib / 1024:.0f} MiB)" if there.rc == 0 else f"failed: {there.stderr[-200:]}", "", "",
              "≥ 30k ev/s", rate >= 30_000)  # fmt: skip
    back = WORK / f"issue11-back-{size}.jsonl"
    fresh(back)
    home = run_once([bench.LEDGER, "copy", big_db, back])
    rate = size / home.seconds if home.rc == 0 else 0.0
    same = home.rc == 0 and back.read_bytes() == plain.read_bytes()
    table.add(f"`ledger copy` of {tag} events, PostgreSQL → file (byte for byte: {'yes' if same else 'NO'})",
              f"{per_s(rate)} ({ms(home.seconds)}, {home.rss_kib / 1024:.0f} MiB)" if home.rc == 0
              else f"failed: {home.stderr[-200:]}", "", "", "≥ 150k ev/s", rate >= 150_000 and same)  # fmt: skip
    say(f"issue 11: verify of the {tag} PostgreSQL store")
    checked = interleaved({f"verify, PostgreSQL {tag}": ledger(big_db, "verify")}, max(long_runs, 3), warmup=0,
                          events={f"verify, PostgreSQL {tag}": size})  # fmt: skip
    stat = checked[f"verify, PostgreSQL {tag}"]
    table.add(f"`verify` on PostgreSQL, {tag} events", f"{per_s(stat.rate)} ({ms(stat.median)}, "
              f"{stat.rss_mib:.0f} MiB)" if stat.ok else "failed: " + stat.failure(), "", "", "≥ 300k ev/s",
              stat.rate is not None and stat.rate >= 300_000)  # fmt: skip
    say(f"issue 11: the first balance of the {tag} store builds its local copy; then warm balance beside the file's")
    warm_cache = ENV["XDG_CACHE_HOME"]
    ENV["XDG_CACHE_HOME"] = str(WORK / "pg-cache-another-machine")  # no local copy there yet
    fresh_cache = Path(ENV["XDG_CACHE_HOME"])
    if fresh_cache.exists():
        import shutil

        shutil.rmtree(fresh_cache)
    first = run_once(ledger(big_db, "balance"))
    ENV["XDG_CACHE_HOME"] = warm_cache
    table.add(f"first `balance` of the {tag} PostgreSQL store on a machine (copies the lines, builds checkpoints)",
              ms(first.seconds) if first.rc == 0 else f"failed: {first.stderr[-200:]}", "", "", "n/a")  # fmt: skip
    warm_file = WORK / f"issue11-file-{size}.jsonl"
    fresh(warm_file)
    warm_file.write_bytes(plain.read_bytes())
    run_once(ledger(warm_file, "balance"))
    reads = interleaved(
        {f"balance, PostgreSQL {tag}": ledger(big_db, "balance"), f"balance, file {tag}": ledger(warm_file, "balance")},
        short_runs,
    )  # fmt: skip
    table.ratio_row(f"`balance` on a {tag}-event PostgreSQL store (warm)", reads[f"balance, PostgreSQL {tag}"],
                    reads[f"balance, file {tag}"], 2.0, "≤ 2× the file store's warm balance")  # fmt: skip
    say("issue 11: import of 200k records into an empty PostgreSQL store (one transaction)")
    records = build_import_file(200_000)
    target = with_schema(base, "bench_import")
    imported = run_once(ledger(target, "import", "-q", records))
    rate = 200_000 / imported.seconds if imported.rc == 0 else 0.0
    table.add("`import` of 200k JSONL records into PostgreSQL", f"{per_s(rate).replace('ev/s', 'records/s')} "
              f"({ms(imported.seconds)}, {imported.rss_kib / 1024:.0f} MiB)" if imported.rc == 0
              else f"failed: {imported.stderr[-200:]}", "", "", "≥ 50k records/s", rate >= 50_000)  # fmt: skip
    say("issue 11: the same import into a PostgreSQL store that already holds an event (for comparison)")
    held = with_schema(base, "bench_import_more")
    run_once(ledger(held, "open", "bench:first"))
    more = run_once(ledger(held, "import", "-q", records))
    rate = 200_000 / more.seconds if more.rc == 0 else 0.0
    table.add("`import` of the same 200k records into a PostgreSQL store that is not new (the chain checked "
              "row by row)", f"{per_s(rate).replace('ev/s', 'records/s')} ({ms(more.seconds)})" if more.rc == 0
              else f"failed: {more.stderr[-200:]}", "", "", "(for comparison)")  # fmt: skip
    del meta
    return 0
