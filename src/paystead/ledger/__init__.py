"""Double-entry ledger: accounts, append-only journal entries, maintained balances."""
