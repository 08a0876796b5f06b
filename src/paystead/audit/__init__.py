"""The tamper-evident audit trail: a SHA-256 hash chain over every recorded event."""
