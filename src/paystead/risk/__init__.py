"""Fraud screening: score a payment before it reaches a gateway (docs/risk.md)."""
