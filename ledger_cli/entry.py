"""The console-script entry point: the fast path first, Typer for everything else."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run one command; without `argv` (the console script, `python -m ledger_cli`) this
    process is the program, which exits right after."""
    args = sys.argv[1:] if argv is None else argv
    from ledger_cli import interrupts, streams

    if argv is None:
        interrupts.for_process()

    saved = streams.prepare()
    try:
        from ledger_cli.completion import program, requested
        from ledger_cli.fastpath import run_fast

        prog = program() if argv is None else "ledger"
        if requested():  # a shell asks for completions: account names at once, the rest from Typer
            from ledger_cli.completion import fast_answer

            answer = fast_answer(prog)
            if answer is not None:
                sys.stdout.write(answer[0] + "\n")
                return answer[1]
            return run_typer(args, prog, completing=True)
        from ledger_cli import pager

        paged, args = pager.wanted(args)
        running = pager.start() if paged and argv is None else None  # (this process is the program)
        try:
            code = run_fast(args)
            if code is None:
                code = run_typer(args, prog)
        finally:
            if running is not None:
                pager.finish(running)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            streams.discard_stdout()
        return code
    except streams.OutputError as exc:  # what Typer itself prints: --help, --version
        streams.say(f"ledger: error: {exc}")
        return int(exc.exit_code)
    except KeyboardInterrupt:  # before a command started (while importing, parsing)
        from ledger_cli.errors import ExitCode

        streams.say("ledger: error: interrupted")
        return int(ExitCode.INTERRUPTED)
    finally:
        streams.restore(saved)


def run_typer(args: list[str], prog: str = "ledger", *, completing: bool = False) -> int:
    """Run the Typer app as `prog` (the name it was invoked by: help and completion say it); a
    usage error becomes one `ledger: error:` line and exit 2."""
    from ledger_cli.cli import app
    from ledger_cli.streams import say

    if completing:
        from typer._completion_classes import completion_init

        completion_init()  # Typer's bash, zsh and fish classes (its own --install-completion is off)
    try:
        result = app(args=args, prog_name=prog, standalone_mode=False)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except Exception as exc:
        # Click's UsageError and friends (Typer may vendor Click, so match by shape, not class).
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else "ledger"
            message = exc.format_message()
            if message:
                say(f"ledger: error: {message} (see '{command} --help')")
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if type(exc).__name__ == "Abort":
            say("ledger: error: aborted")
            return 1
        raise
    return result if isinstance(result, int) else 0
