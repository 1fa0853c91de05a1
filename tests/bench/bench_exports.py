"""Section 10 of the benchmark (issue 12): `ledger export` of the 1M log to each format, and
`ledger import --rules` of a 100k-row bank statement. Imported by bench.py for `--only issue12`."""

from __future__ import annotations

import random
from collections.abc import Callable

import bench
from bench import WORK, Table, build_log, fresh, human, interleaved, log_paths, ms, per_s, run_once

RULES = """skip 1
fields date, description, amount, key
date-format %d/%m/%Y
account1 assets:bank

if SUPERMARKET|CAFE
  account2 expenses:food

if %description ^RENT
  account2 expenses:rent
"""


def statement(rows: int) -> tuple[str, str]:
    """A bank statement of `rows` rows (an opening deposit, then money out) and its rules."""
    path, rules = WORK / f"statement-{rows}.csv", WORK / "bank.rules"
    rules.write_text(RULES)
    if not path.exists():
        rng = random.Random(bench.SEED)
        texts = ("SUPERMARKET 12", "CAFE LUNA", "RENT NOVEMBER", "CASH MACHINE", "BOOKSHOP")
        lines = ["Date,Description,Amount,Id", "01/01/2026,OPENING,100000000,T0"]
        for n in range(1, rows):
            day, month = rng.randint(1, 28), rng.randint(1, 11)
            lines.append(f"{day:02d}/{month:02d}/2026,{rng.choice(texts)},-{rng.randint(1, 9999) / 100:.2f},T{n}")
        path.write_text("\n".join(lines) + "\n")
    return str(path), str(rules)


def issue12_sections(table: Table, big_sizes: list[int], say: Callable[[str], None]) -> int:
    """Each row is the median of three runs (a single run on a shared machine strays by 30%); the
    first row is the cold replay of the same log meanwhile (the walk an export verifies with):
    these targets are rates, and a shared machine's rate varies by half from hour to hour."""
    size = big_sizes[-1] if big_sizes else 1_000_000
    tag = human(size)
    build_log(size)
    log = log_paths(size)[0]
    run_once([bench.LEDGER, "-f", log, "balance"])  # (checkpoints: as a user's log has them)
    label = f"replay --no-cache, {tag} (context)"
    cold = interleaved({label: [bench.LEDGER, "-f", log, "replay", "--no-cache"]}, 3, warmup=0, events={label: size})
    table.add(f"context: cold `replay --no-cache` of the {tag} log meanwhile", f"{per_s(cold[label].rate)} "
              f"({ms(cold[label].median)})", "", "", "(867k ev/s in issue 10's quiet run)", None)  # fmt: skip
    for fmt in ("hledger", "beancount", "csv"):
        say(f"issue 12: export of the {tag} log as {fmt}")
        out = WORK / f"export.{fmt}"
        label = f"export --format {fmt}, {tag}"
        done = interleaved({label: [bench.LEDGER, "-f", log, "export", "--format", fmt, "-o", out]}, 3, warmup=0,
                           events={label: size})[label]  # fmt: skip
        rate, rss = done.rate or 0.0, done.rss_mib
        table.add(f"`export --format {fmt}` of {tag} events", f"{per_s(rate)} ({ms(done.median)}, {rss:.0f} MiB)"
                  if done.ok else f"failed: {done.failure()}", "", "", "≥ 300k ev/s, ≤ 50 MiB",
                  done.ok and rate >= 300_000 and rss <= 50)  # fmt: skip
        out.unlink(missing_ok=True)
    rows = 100_000
    say(f"issue 12: import of a {human(rows)}-row bank statement through its rules")
    csv_path, rules = statement(rows)
    books = WORK / "statement-books.jsonl"
    label = f"import --rules, {human(rows)} rows"
    done = interleaved({label: [bench.LEDGER, "-f", books, "import", "-q", csv_path, "--rules", rules]}, 3,
                       warmup=0, before=lambda _: fresh(books), events={label: rows})[label]  # fmt: skip
    rate = done.rate or 0.0
    table.add(f"`import --rules` of a {human(rows)}-row statement", f"{per_s(rate).replace('ev/s', 'rows/s')} "
              f"({ms(done.median)}, {done.rss_mib:.0f} MiB)" if done.ok
              else f"failed: {done.failure()}", "", "", "≥ 50k rows/s", rate >= 50_000)  # fmt: skip
    return 0
