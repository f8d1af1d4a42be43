"""The ledger: categories, transactions and balances (the domain is in place; the service comes next)."""
