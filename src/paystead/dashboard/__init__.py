"""The web dashboard: the scorecard, charts, gateway health and the executive view."""
