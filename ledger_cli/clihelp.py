"""The help's groups and examples: `ledger --help` lists the commands by what they are for, and
every command's help ends with real examples (each one runs as shown). Plain data for cli.py,
clireads.py and climore.py; tests/test_help.py runs them."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RECORD, REPORT, AUDIT, MOVE, SETUP = "Record", "Report", "Audit", "Move data", "Set up"

PANELS = {
    "open": RECORD, "deposit": RECORD, "withdraw": RECORD, "transfer": RECORD, "close": RECORD,
    "reverse": RECORD, "close-period": RECORD, "reopen-period": RECORD,
    "balance": REPORT, "history": REPORT, "accounts": REPORT, "chart": REPORT,
    "replay": AUDIT, "verify": AUDIT, "restatement": AUDIT,
    "copy": MOVE, "export": MOVE, "import": MOVE,
    "info": SETUP, "completion": SETUP,
}  # fmt: skip

# The commands in the order the app registers them (its help's, and Typer's completions'):
# tests/test_completion.py holds it to the app.
ORDER = ("open", "deposit", "withdraw", "transfer", "close", "reverse", "balance", "history", "replay", "accounts",
         "verify", "close-period", "reopen-period", "restatement", "copy", "export", "import", "completion", "info",
         "chart")  # fmt: skip

# Each command's line in `ledger --help` and in zsh's and fish's completions (no [ or ]: rich
# would read them as markup).
SHORT = {
    "open": "Open ACCOUNT (again, if it was closed).",
    "deposit": "Deposit AMOUNT into ACCOUNT.",
    "withdraw": "Withdraw AMOUNT from ACCOUNT.",
    "transfer": "Move AMOUNT from FROM to TO in one event.",
    "close": "Close ACCOUNT (only at zero).",
    "reverse": "Undo the money movement of event SEQ.",
    "balance": "Balances: now, by date, as known, by period.",
    "history": "The events, in log order or by date.",
    "replay": "The state rebuilt, with the seq and hash known.",
    "accounts": "The accounts, open and closed.",
    "verify": "Check the whole log: chain, fields and rules.",
    "close-period": "Close the books through DATE.",
    "reopen-period": "Reopen the books from DATE on.",
    "restatement": "What later entries changed about a day's books.",
    "copy": "Copy a log between stores, byte for byte.",
    "export": "The books for hledger, Ledger 3, Beancount or CSV.",
    "import": "Append a batch all-or-nothing, or a bank statement.",
    "completion": "Print the shell's completion script.",
    "info": "Where the books are, and what they hold.",
    "chart": "Balances over time as bars, or a PNG.",
}

EXAMPLES = {
    "open": ["ledger open assets:bank", 'ledger open savings -m "for the holidays"'],
    "deposit": ['ledger deposit assets:bank 1200 -m "salary" -k pay-2026-11',
                "ledger deposit assets:cash 50 --date 2026-11-30"],
    "withdraw": ["ledger withdraw assets:bank 42.10 -m groceries", "ledger withdraw assets:cash 20 --json"],
    "transfer": ["ledger transfer assets:bank savings 300", "ledger transfer assets:bank savings 50 -k buffer-2026-12"],
    "close": ["ledger close savings", "ledger close assets:cash -q"],
    "reverse": ['ledger reverse 5 -m "entered twice"', "ledger reverse 7 --json"],
    "balance": ["ledger balance assets", "ledger balance --as-of 2026-11-30 --format csv",
                "ledger balance --by month --begin 2026-01-01 --change"],
    "history": ["ledger history assets:bank --last 10", "ledger history --since 2026-11-01 --format jsonl",
                "ledger history --by-date"],
    "accounts": ["ledger accounts", "ledger accounts --json"],
    "chart": ["ledger chart assets --by week", "ledger chart --as-of 2026-11-30 --width 60",
              "ledger chart assets savings --format png -o balances.png"],
    "replay": ["ledger replay --json > statement.json", "ledger replay --as-of 2026-11-30"],
    "verify": ["ledger verify", "ledger verify --against statement.json"],
    "restatement": ["ledger restatement --as-of 2026-11-30", "ledger restatement --as-of 2026-11-30 --check"],
    "close-period": ["ledger close-period 2026-10-31", 'ledger close-period 2026-11-30 -m "November audited"'],
    "reopen-period": ['ledger reopen-period 2026-10-01 -m "a late invoice"'],
    "copy": ["ledger copy books.jsonl backup.jsonl", "ledger copy books.jsonl postgresql://books@db.example/books"],
    "export": ["ledger export -o b.journal && hledger -f b.journal check -s ordereddates",
               "ledger export --format beancount --currency EUR -o books.beancount",
               "ledger export --format csv --as-of 2026-11-30 > postings.csv"],
    "import": ["ledger import batch.jsonl", "ledger import statement.csv --rules bank.rules --dry-run"],
    "info": ["ledger info", "ledger info --json"],
    "completion": ['eval "$(ledger completion bash)"',
                   "ledger completion fish > ~/.config/fish/completions/ledger.fish"],
}  # fmt: skip


def epilog(name: str) -> str:
    """The end of a command's help: its examples, one a paragraph (Typer keeps each apart)."""
    return "Examples:\n\n" + "\n\n".join(f"  $ {line}" for line in EXAMPLES[name])


def options(name: str) -> dict[str, Any]:
    """The keyword arguments of app.command() for command `name`: its group and examples."""
    return {"rich_help_panel": PANELS[name], "epilog": epilog(name), "short_help": SHORT[name]}
