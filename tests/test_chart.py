"""`ledger chart` (issue 13): the text rendering of a fixed history at a fixed width (golden
output: one row a period, eighth blocks scaled to the widest balance), colours only on a colour
terminal (never with NO_COLOR or in a pipe), the bar's arithmetic exact over random values, and
the PNG: an image of the expected size, written atomically; without matplotlib, exit 2 saying
what to install."""

from __future__ import annotations

import os
import struct
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_cli.chart import BLOCKS, PNG_SIZE, bar
from tests.conftest import run_installed
from tests.test_installed import clean_env
from tests.test_pager import on_a_terminal

GOLDEN = """\
assets: balance at each period's end
2026-01 │████████████████████████████ 120.5
2026-02 │█████████████████████         90.5
2026-03 │███████                       30.5

savings: balance at each period's end
2026-01 │                                 0
2026-02 │████████████████████████████    30
2026-03 │████████████████████████████    30
"""
GOLDEN_WEEKS = """\
assets:bank: balance at each period's en
2026-W02 │█████████████████████████ 100
2026-W03 │█████████████████████████ 100
2026-W04 │█████████████████████████ 100
2026-W05 │█████████████████████████ 100
"""


@pytest.fixture
def books(tmp_path: Path) -> Path:
    log = tmp_path / "books.jsonl"
    for args in (("deposit", "assets:bank", "100", "--date", "2026-01-05"),
                 ("deposit", "assets:cash", "20.5", "--date", "2026-01-20"),
                 ("transfer", "assets:bank", "savings", "30", "--date", "2026-02-10"),
                 ("withdraw", "assets:bank", "60", "--date", "2026-03-03")):  # fmt: skip
        done = run_installed(list(args), log)
        assert done.returncode == 0, done.stderr
    return log


def test_the_text_chart_of_a_fixed_history_at_a_fixed_width(books: Path) -> None:
    done = run_installed(["chart", "assets", "savings", "--width", "44"], books)
    assert done.returncode == 0 and done.stdout == GOLDEN
    assert all(len(line) <= 44 for line in done.stdout.splitlines())
    weeks = run_installed(["chart", "assets:bank", "--by", "week", "--width", "40", "--as-of", "2026-01-31"], books)
    assert weeks.returncode == 0 and weeks.stdout == GOLDEN_WEEKS
    assert "\x1b[" not in done.stdout  # (a pipe: no colour)


def test_colour_only_on_a_colour_terminal(books: Path) -> None:
    env = clean_env(LEDGER_CLI_FILE=str(books), PAGER="cat", TERM="xterm", COLUMNS="60")
    code, shown = on_a_terminal(["chart", "--width", "60"], env)
    assert code == 0 and "\x1b[32m" in shown
    code, shown = on_a_terminal(["chart", "--width", "60"], {**env, "NO_COLOR": "1"})
    assert code == 0 and "\x1b[" not in shown and "█" in shown


@given(value=st.decimals(min_value=0, max_value=10**12, places=2), cells=st.integers(1, 200))
def test_a_bar_is_its_value_in_eighths_of_the_largest(value: Decimal, cells: int) -> None:
    largest = value + 1
    drawn = bar(value, largest, cells)
    assert len(drawn) == cells
    eighths = sum(8 if ch == "█" else BLOCKS.index(ch) for ch in drawn)
    assert eighths == int(value * cells * 8 / largest)  # (floor: a bar never overstates)
    assert bar(largest, largest, cells) == "█" * cells


def test_the_png_is_an_image_of_the_expected_size(books: Path, tmp_path: Path) -> None:
    image = tmp_path / "balances.png"
    done = run_installed(["chart", "assets", "savings", "--format", "png", "-o", str(image)], books)
    assert done.returncode == 0, done.stderr
    data = image.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == PNG_SIZE
    from matplotlib import image as images

    assert images.imread(str(image)).shape[:2] == (PNG_SIZE[1], PNG_SIZE[0])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # (no temporary left)
    refused = run_installed(["chart", "--format", "png"], books)
    assert refused.returncode == 2 and "needs -o FILE" in refused.stderr


def test_without_matplotlib_the_png_is_exit_2_saying_what_to_install(books: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('not installed')\n")
    env = {"PYTHONPATH": str(blocker) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = run_installed(["chart", "--format", "png", "-o", str(tmp_path / "x.png")], books, env=env)
    assert done.returncode == 2
    assert done.stderr == "ledger: error: the PNG chart needs matplotlib: pip install 'ledger-cli[chart]'\n"
    assert not (tmp_path / "x.png").exists()
