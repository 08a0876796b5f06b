"""Billing: catalog, subscriptions, usage, coupons, invoices with GST, credit notes."""
