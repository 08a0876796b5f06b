"""paystead's models: fraud, churn, revenue forecast and lifetime value (docs/models.md)."""
