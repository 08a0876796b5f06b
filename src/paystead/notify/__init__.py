"""Notifications: email over SMTP and SMS through a provider, queued through the outbox."""
