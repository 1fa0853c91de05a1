"""`ledger info` (issue 13): where the books are and how that was chosen (--file, the variable,
the default data folder), their size, events, head, schema versions, closed-through date, cache
folder and its size, and whether the C extension is in use; on a file and on a PostgreSQL store."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import run_installed
from tests.test_installed import BIN, clean_env, run
from tests.test_v1_dates import LOG as V1_LOG


def info(log: Path | str, *extra: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = run_installed(["info", "--json", *extra], log, env=env)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_info_on_a_file_names_it_and_what_it_holds(tmp_path: Path) -> None:
    log = tmp_path / "books.jsonl"
    log.write_bytes(V1_LOG)  # v1 lines, then v2 ones
    for args in (("deposit", "acct9", "5"), ("close-period", "2025-06-30")):
        assert run_installed(list(args), log).returncode == 0
    found = info(log)
    lines = log.read_bytes().splitlines()
    last = json.loads(lines[-1])
    assert found["log"] == str(log) and found["store"] == "file" and found["chosen_by"] == "LEDGER_CLI_FILE"
    assert found["size_bytes"] == log.stat().st_size
    assert (found["events"], found["head"], found["last_ts"]) == (len(lines), last["hash"], last["ts"])
    assert found["schema_versions"] == [1, 2]
    assert found["closed_through"] == "2025-06-30"
    assert found["cache_folder"] == str(log) + ".cache" and found["cache_bytes"] > 0
    assert found["c_extension"] is (os.environ.get("LEDGER_CLI_NATIVE", "1") != "0")
    text = run_installed(["info"], log)
    assert text.returncode == 0 and f"log:             {log} (file, chosen by LEDGER_CLI_FILE)" in text.stdout
    assert "schema versions: v1, v2" in text.stdout and "closed through:  2025-06-30" in text.stdout


def test_info_says_how_the_location_was_chosen(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "xdg-data"
    home.mkdir()
    env = clean_env(HOME=str(home), XDG_DATA_HOME=str(data))
    done = run([str(BIN / "ledger"), "info", "--json"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["log"] == str(data / "ledger-cli" / "ledger.jsonl")
    assert found["chosen_by"] == "default (the user data folder)"
    assert (found["exists"], found["events"], found["head"], found["schema_versions"]) == (False, 0, None, [])
    assert not data.exists()  # info writes nothing
    other = tmp_path / "other.jsonl"
    done = run([str(BIN / "ledger"), "-f", str(other), "info", "--json"], env, cwd=tmp_path)
    assert json.loads(done.stdout)["chosen_by"] == "--file"
    off = run([str(BIN / "ledger"), "info"], {**env, "LEDGER_CLI_NATIVE": "0"}, cwd=tmp_path)
    assert "C extension:     turned off (LEDGER_CLI_NATIVE=0)" in off.stdout


def test_info_on_postgresql_counts_the_events_and_names_the_local_cache(pg_uri: str, tmp_path: Path) -> None:
    from ledger_cli.pgdriver import redact

    for amount in ("5", "7.25"):
        assert run_installed(["deposit", "acct1", amount], pg_uri).returncode == 0  # type: ignore[arg-type]
    found = info(pg_uri)
    assert found["store"] == "postgresql" and found["events"] == 2 and found["schema_versions"] == [2]
    assert str(found["cache_folder"]).startswith(str(tmp_path / "cache"))
    assert found["log"] == redact(pg_uri) and found["chosen_by"] == "LEDGER_CLI_FILE"
