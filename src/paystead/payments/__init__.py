"""Taking, capturing, canceling and refunding payments."""
