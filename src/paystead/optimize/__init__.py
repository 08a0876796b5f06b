"""The improvement loop: experiment statistics (and, next, flags, rollouts, the backlog)."""
