"""Customers: who pays."""
