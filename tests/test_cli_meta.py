"""CLI tests of help, version and documentation: every command is described and documented."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest
import typer.main

import ledger_cli
from ledger_cli.cli import app
from tests.conftest import Runner

README = Path(__file__).resolve().parent.parent / "README.md"
# The commands of issue 2; any command the app registers later is checked as well.
COMMANDS = ["open", "deposit", "withdraw", "transfer", "close", "reverse", "balance", "history", "replay",
            "accounts", "verify"]  # fmt: skip
REGISTERED = typer.main.get_command(app).commands  # type: ignore[attr-defined]
ALL_COMMANDS = sorted(set(COMMANDS) | set(REGISTERED))


def _flat(text: str) -> str:
    """Help text without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─┃━]", " ", text).split())


def test_every_command_of_the_issue_is_registered() -> None:
    assert set(COMMANDS) <= set(REGISTERED)


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_has_help_with_a_description(ledger: Runner, command: str) -> None:
    out = ledger(command, "--help")
    assert out.code == 0, out.stderr
    assert "Usage:" in out.stdout and command in out.stdout
    description = REGISTERED[command].help or ""
    words = description.split()
    assert len(words) >= 3, f"{command} has no description"
    assert " ".join(words[:3]) in _flat(out.stdout)
    assert not ledger.log.exists()


def test_short_help_flag_works_too(ledger: Runner) -> None:
    out = ledger("deposit", "-h")
    assert out.code == 0 and "Usage:" in out.stdout


def test_top_level_help_lists_every_command(ledger: Runner) -> None:
    out = ledger("--help")
    assert out.code == 0
    listed = _flat(out.stdout)
    for command in ALL_COMMANDS:
        assert re.search(rf"\b{command}\b", listed), command


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_appears_in_the_readme(command: str) -> None:
    text = README.read_text(encoding="utf-8")
    assert re.search(rf"\bledger(?:\s+(?:-f|--file)\s+\S+)?\s+{command}\b", text), (
        f"README.md shows no `ledger {command}` example"
    )


def test_version_prints_the_package_version(ledger: Runner) -> None:
    out = ledger("--version")
    assert out.code == 0 and out.stderr == ""
    assert out.stdout.strip().endswith(ledger_cli.__version__)
    assert ledger_cli.__version__ == version("ledger-cli")
    assert len(out.stdout.splitlines()) == 1


def test_unknown_command_is_a_usage_error(ledger: Runner) -> None:
    out = ledger("frobnicate")
    assert out.code == 2 and out.stdout == "" and "frobnicate" in out.stderr


@pytest.mark.parametrize("args", [["deposit"], ["deposit", "acct1"], ["transfer", "a", "b"], ["reverse"],
                                  ["deposit", "a", "1", "extra"], ["deposit", "a", "1", "-m"],
                                  ["balance", "--until"], ["deposit", "a", "1", "--bogus"]])  # fmt: skip
def test_malformed_command_lines_exit_2_with_nothing_on_stdout(ledger: Runner, args: list[str]) -> None:
    out = ledger(*args)
    assert out.code == 2, (out.stdout, out.stderr)
    assert out.stdout == "" and out.stderr.strip() != ""
    assert not ledger.log.exists()
