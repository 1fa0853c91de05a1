"""ledger: an event-sourced command-line ledger.

The package is layered so that start-up stays cheap: nothing here imports Typer,
rich or any third-party module at import time.
"""

__version__ = "0.1.0"
