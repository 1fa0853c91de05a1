"""Shell completion (issue 13) through the real shell machinery's variables, under both program
names: bash's COMP_WORDS/COMP_CWORD, zsh's and fish's _TYPER_COMPLETE_ARGS; commands, options,
and account names read from the books the command line names. The fast path steps aside while
a shell asks (a write is never recorded by a completion), and `ledger completion SHELL` prints
the script that calls the program back by the name it was invoked by."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_installed
from tests.test_installed import BIN, clean_env

NAMES = ("ledger", "ledger-cli")


def ask(prog: str, log: Path, shell: str, words: str, extra: dict[str, str] | None = None) -> list[str]:
    """What `prog` answers a shell asking to complete `words` (the last one partial)."""
    var = "_{}_COMPLETE".format(prog.replace("-", "_").upper())
    env = clean_env(LEDGER_CLI_FILE=str(log), **{var: f"complete_{shell}"}, **(extra or {}))
    if shell == "bash":
        parts = words.split(" ")
        env.update(COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1))
    else:
        env["_TYPER_COMPLETE_ARGS"] = words
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    done = subprocess.run([str(BIN / prog)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture
def books(tmp_path: Path) -> Path:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "assets:bank", "100"), ("transfer", "assets:bank", "savings", "5"),
                 ("deposit", "assets:cash", "2")):  # fmt: skip
        assert run_installed(list(args), log).returncode == 0
    return log


@pytest.mark.parametrize("prog", NAMES)
def test_bash_completes_commands_options_and_accounts(books: Path, prog: str) -> None:
    assert ask(prog, books, "bash", f"{prog} dep") == ["deposit"]
    assert {"reverse", "replay", "reopen-period", "restatement"} <= set(ask(prog, books, "bash", f"{prog} re"))
    assert "--idempotency-key" in ask(prog, books, "bash", f"{prog} deposit --idem")
    assert ask(prog, books, "bash", f"{prog} withdraw assets:") == ["assets:bank", "assets:cash"]
    assert ask(prog, books, "bash", f"{prog} transfer assets:bank sa") == ["savings"]
    assert ask(prog, books, "bash", f"{prog} balance ") == ["assets:bank", "assets:cash", "savings"]


@pytest.mark.parametrize("prog", NAMES)
def test_zsh_and_fish_complete_accounts_too(books: Path, prog: str) -> None:
    zsh = "\n".join(ask(prog, books, "zsh", f"{prog} history assets:"))  # (an _arguments spec, ':' escaped)
    assert zsh == '_arguments \'*: :(("assets\\\\:bank"\n"assets\\\\:cash"))\'', zsh
    assert ask(prog, books, "fish", f"{prog} close sav") == ["savings"]


def test_the_accounts_come_from_the_books_that_f_names(books: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    assert run_installed(["deposit", "elsewhere:x", "1"], other).returncode == 0
    assert ask("ledger", books, "bash", f"ledger -f {other} balance e") == ["elsewhere:x"]
    assert ask("ledger", books, "bash", f"ledger balance -f {other} e") == ["elsewhere:x"]
    assert ask("ledger", tmp_path / "missing.jsonl", "bash", "ledger balance a") == []
    assert not (tmp_path / "missing.jsonl").exists()  # (a completion reads, never writes)


def test_a_completion_request_never_runs_the_command(books: Path) -> None:
    """The fast path answers `deposit` before Typer: with the variable set it must step aside."""
    before = books.read_bytes()
    env = clean_env(LEDGER_CLI_FILE=str(books), _LEDGER_COMPLETE="complete_bash", COMP_WORDS="ledger dep",
                    COMP_CWORD="1")  # fmt: skip
    done = subprocess.run([str(BIN / "ledger"), "deposit", "x", "5"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.splitlines() == ["deposit"]
    assert books.read_bytes() == before


@pytest.mark.parametrize("prog", NAMES)
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_calls_the_program_back_by_its_own_name(prog: str, shell: str, tmp_path: Path) -> None:
    done = subprocess.run([str(BIN / prog), "completion", shell], env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    var = "_{}_COMPLETE".format(prog.replace("-", "_").upper())
    assert f"{var}=complete_{shell}" in done.stdout and prog in done.stdout
    if shell == "bash" and shutil.which("bash"):  # the script is valid bash and registers the function
        script = tmp_path / "c.bash"
        script.write_text(done.stdout)
        check = subprocess.run(["bash", "-c", f"source {script} && complete -p {prog}"], capture_output=True, text=True)
        assert check.returncode == 0 and prog in check.stdout, check.stderr


def test_an_unknown_shell_is_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([str(BIN / "ledger"), "completion", "tcsh"], env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 2 and "invalid shell 'tcsh'" in done.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize(
    "words",
    ["ledger ", "ledger re", "ledger -f x c", "ledger balance ", "ledger balance assets:b", "ledger withdraw a",
     "ledger transfer assets:bank s", "ledger deposit -m hi assets:", "ledger history --last 3 sav", "ledger close "],
)  # fmt: skip
def test_the_quick_answer_for_account_names_is_typers_own(
    books: Path, shell: str, words: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Account names are answered without Typer (a completion must be quick on a long log): the
    same text Typer's machinery gives for the same words."""
    from ledger_cli import completion, entry

    monkeypatch.setenv("LEDGER_CLI_FILE", str(books))
    monkeypatch.setenv("_LEDGER_COMPLETE", f"complete_{shell}")
    if shell == "bash":
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    else:
        monkeypatch.setenv("_TYPER_COMPLETE_ARGS", words)
        monkeypatch.setenv("_TYPER_COMPLETE_FISH_ACTION", "get-args")
    quick = completion.fast_answer("ledger")
    assert quick is not None and quick[1] == 0
    capsys.readouterr()
    entry.run_typer([], "ledger", completing=True)
    assert capsys.readouterr().out == quick[0] + "\n"


def test_anything_but_account_names_is_typers_to_answer(books: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger_cli import completion

    monkeypatch.setenv("_LEDGER_COMPLETE", "complete_bash")
    for words in ("ledger --fi", "ledger deposit --me", "ledger deposit a ", "ledger export --format ", "ledger x y"):
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
        assert completion.fast_answer("ledger") is None, words


def test_the_quick_answers_command_order_is_the_apps() -> None:
    import typer.main

    from ledger_cli.cli import app
    from ledger_cli.clihelp import ORDER

    assert tuple(typer.main.get_command(app).commands) == ORDER  # type: ignore[attr-defined]
