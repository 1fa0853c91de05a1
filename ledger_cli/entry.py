"""The console-script entry point: the fast path first, Typer for everything else."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from ledger_cli.fastpath import run_fast

    code = run_fast(args)
    if code is not None:
        return code
    return run_typer(args)


def run_typer(args: list[str]) -> int:
    """Run the Typer app; a usage error becomes one `ledger: error:` line and exit 2."""
    from ledger_cli.cli import app

    try:
        result = app(args=args, prog_name="ledger", standalone_mode=False)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except Exception as exc:
        # Click's UsageError and friends (Typer may vendor Click, so match by shape, not class).
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else "ledger"
            message = exc.format_message()
            if message:  # empty when the help was shown for a bare `ledger`
                print(f"ledger: error: {message} (see '{command} --help')", file=sys.stderr)
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if type(exc).__name__ == "Abort":
            print("ledger: error: aborted", file=sys.stderr)
            return 1
        raise
    return result if isinstance(result, int) else 0
