"""`python -m ledger_cli` runs the same entry point as the `ledger` command."""

from ledger_cli.entry import main

raise SystemExit(main())
