"""Infrastructure without business rules: database, schema, migrations, idempotency, keys."""
