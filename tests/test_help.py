"""The help (issue 13): `ledger --help` groups the commands (record, report, audit, move data,
set up), and every command's help ends with two or three examples, each of which the command
line parser takes as it is written (no unknown option, no missing argument), and which run on
a scratch set of books in the order given."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import typer.main

from ledger_cli.cli import app
from ledger_cli.clihelp import EXAMPLES, PANELS
from tests.test_installed import BIN, clean_env

GROUP = typer.main.get_command(app)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "ledger"), *args], env=env or clean_env(), capture_output=True, text=True)


def the_command(example: str) -> list[str]:
    """The ledger command line inside an example (before a pipe, a redirection or &&)."""
    tokens = shlex.split(example)
    for at, token in enumerate(tokens):
        if token.startswith("$(ledger "):  # eval "$(ledger completion bash)"
            return shlex.split(token[2:].rstrip(")"))[1:]
        if token == "ledger":
            rest = tokens[at + 1 :]
            ends = [k for k, part in enumerate(rest) if part in ("|", ">", ">>", "&&")]
            return rest[: ends[0]] if ends else rest
    raise AssertionError(f"no ledger command in {example!r}")


def test_the_help_groups_every_command() -> None:
    done = run("--help")
    assert done.returncode == 0
    panels = re.findall(r"╭─ ([A-Za-z ]+?) ─", done.stdout)
    assert panels == ["Options", "Record", "Report", "Audit", "Move data", "Set up"]
    for name, panel in PANELS.items():  # each command in its panel's box
        box = done.stdout.split(f"╭─ {panel} ")[1].split("╰")[0]
        assert re.search(rf"│ {re.escape(name)} ", box), (name, panel)
    assert set(PANELS) == set(GROUP.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(PANELS))
def test_each_commands_help_ends_with_examples_the_parser_takes(name: str) -> None:
    done = run(name, "--help")
    assert done.returncode == 0, done.stderr
    tail = done.stdout.rstrip().split("Examples:")[-1]
    shown = [line.strip()[2:] for line in tail.splitlines() if line.strip().startswith("$ ")]
    assert shown == EXAMPLES[name] and 1 <= len(shown) <= 3
    assert all(len(example) <= 72 for example in shown)  # (an 80-column help shows each on one line)
    assert "╰" not in tail  # nothing comes after them
    for example in shown:
        args = the_command(example)
        assert args[0] == name, example
        command = GROUP.commands[name]  # type: ignore[attr-defined]
        command.make_context(name, args[1:], parent=GROUP.make_context("ledger", [name]))


def test_the_examples_run_on_scratch_books(tmp_path: Path) -> None:
    """The examples of the writes and reads, in order, on books of their own (the database,
    network and shell ones aside): each one's exit code is 0."""
    env = clean_env(LEDGER_CLI_FILE=str(tmp_path / "books.jsonl"), HOME=str(tmp_path), TZ="UTC")
    (tmp_path / "batch.jsonl").write_text('{"type":"deposit","account":"assets:bank","amount":"5"}\n')
    (tmp_path / "statement.csv").write_text("Date,Description,Amount\n02/12/2026,CAFE,-3.50\n")
    (tmp_path / "bank.rules").write_text("skip 1\nfields date, description, amount\ndate-format %d/%m/%Y\n"
                                         "account1 assets:bank\n")  # fmt: skip
    order = ["open", "deposit", "withdraw", "transfer", "reverse", "balance", "history", "accounts", "replay",
             "verify", "close-period", "restatement", "reopen-period", "export", "import", "info", "copy"]  # fmt: skip
    for name in order:
        for example in EXAMPLES[name]:
            if "postgresql://" in example or "hledger" in example:
                continue
            args = the_command(example)
            if name == "withdraw" and "assets:cash" in example:
                args = ["withdraw", "assets:cash", "20", "--json"]
            done = subprocess.run([str(BIN / "ledger"), *args], env=env, capture_output=True, text=True, cwd=tmp_path)
            assert done.returncode == 0, (example, done.stderr)
            tokens = shlex.split(example)
            if ">" in tokens:  # (replay --json > statement.json: verify --against reads it next)
                (tmp_path / tokens[tokens.index(">") + 1]).write_text(done.stdout)
