"""Events out: the typed event catalog, the transactional outbox and the worker.

A state change records an event in the same transaction (:func:`outbox.record`); the
worker (:mod:`paystead.events.worker`) fans each event out to deliveries (webhooks,
email, SMS), appends it to the audit chain, and delivers with retries.
"""
