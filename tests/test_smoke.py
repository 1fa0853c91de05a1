from __future__ import annotations

import json

from tests.conftest import Runner


def test_deposit_then_balance_shows_the_deposit(ledger: Runner) -> None:
    assert ledger("deposit", "acct1", "50").code == 0
    result = ledger("balance", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["accounts"] == [{"account": "acct1", "balance": "50", "open": True}]
