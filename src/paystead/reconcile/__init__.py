"""Reconciliation of gateway settlement reports against payments, refunds and the ledger."""
