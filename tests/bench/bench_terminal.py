"""Section 11 of the benchmark (issue 13): the terminal conveniences on the 1M log, beside the
start-up they must not cost the hot commands: a completion of account names (< 150 ms), `info`,
`balance --by month` and the text chart. Imported by bench.py for `--only issue13`."""

from __future__ import annotations

from collections.abc import Callable

import bench
from bench import Table, build_log, human, interleaved, log_paths, ms, run_once


def issue13_sections(table: Table, big_sizes: list[int], say: Callable[[str], None]) -> int:
    size = big_sizes[-1] if big_sizes else 1_000_000
    tag = human(size)
    build_log(size)
    log = log_paths(size)[0]
    run_once([bench.LEDGER, "-f", log, "balance"])  # (checkpoints: as a user's log has them)
    say(f"issue 13: completion, info, balance --by month and chart on the {tag} log")
    ask = ["/usr/bin/env", "_LEDGER_COMPLETE=complete_bash"]  # (what bash's completion function runs)
    commands = {
        "python -c pass": [bench.PYTHON, "-c", "pass"],
        f"completion of accounts, {tag}": [
            *ask,
            f"COMP_WORDS=ledger -f {log} balance assets:bank:a00",
            "COMP_CWORD=4",
            bench.LEDGER,
        ],  # fmt: skip
        f"completion of a command, {tag}": [*ask, "COMP_WORDS=ledger dep", "COMP_CWORD=1", bench.LEDGER],
        f"info, {tag}": [bench.LEDGER, "-f", log, "info"],
        f"balance --by month, {tag}": [bench.LEDGER, "-f", log, "balance", "--by", "month"],
        f"chart --by month, {tag}": [bench.LEDGER, "-f", log, "chart", "--width", "80"],
    }
    stats = interleaved(commands, 5, warmup=1)
    base = stats["python -c pass"]
    for label, target, limit in (
        (f"completion of accounts, {tag}", "< 150 ms", 0.150),
        (f"completion of a command, {tag}", "< 150 ms", 0.150),
        (f"info, {tag}", "(for reading)", None),
        (f"balance --by month, {tag}", "(for reading)", None),
        (f"chart --by month, {tag}", "(for reading)", None),
    ):
        stat = stats[label]
        ratio = f"{stat.median / base.median:.2f}×"
        met = None if limit is None else stat.ok and stat.median < limit
        table.add(f"`{label}`", ms(stat.median) if stat.ok else f"failed: {stat.failure()}",
                  f"{ms(base.median)} (python -c pass)", ratio, target, met)  # fmt: skip
    return 0
