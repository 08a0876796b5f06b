"""Exchange rates by day: manual entry, the ECB reference CSV, conversion for reports."""
