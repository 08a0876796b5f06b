"""paystead: payments and billing with the post-launch optimization loop built in."""

__version__ = "0.1.0"
