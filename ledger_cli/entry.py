"""The console-script entry point: the fast path first, Typer for everything else."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from ledger_cli.fastpath import run_fast

    code = run_fast(args)
    if code is not None:
        return code
    from ledger_cli.cli import app

    try:
        app(args=args, prog_name="ledger", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return 0
