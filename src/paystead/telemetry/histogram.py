"""Fixed-bucket duration histograms: one set of boundaries for every duration we measure.

The same boundaries are used by the Prometheus histograms at ``/metrics`` and by the
per-minute rollups in the database, so both say the same thing and bucket counts from
any number of minutes, processes or label sets add up (they are *mergeable*): a
percentile over any window is computed from the summed counts, exact to the bucket.

Boundaries, in seconds (a bucket counts durations ``<=`` its bound, Prometheus' ``le``)::

    0.0001 0.00025 0.0005 0.001 0.0025 0.005 0.0075 0.01 0.015 0.02 0.03 0.05 0.075
    0.1 0.15 0.2 0.3 0.5 0.75 1 1.5 2 3 5 10 30 +Inf

27 buckets: 0.1 ms (a cached database statement) to 30 s (a gateway timeout), about
1.5x apart around the API's working range (5 ms to 1 s), and 1 s is a bound so the
latency SLO ("99 % under 1 s") is exact. Changing them changes the rollup table's
meaning: add a migration that re-buckets, never edit them in place.

Percentiles (:func:`quantile`) follow Prometheus' ``histogram_quantile``: the rank
``q x total`` falls in some bucket; the value is interpolated linearly between that
bucket's lower and upper bound (the first bucket's lower bound is 0). A rank in the
``+Inf`` bucket returns the highest finite bound (30 s): all that is known is "more".
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

BOUNDS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
)
#: Finite buckets plus ``+Inf``.
BUCKETS = len(BOUNDS) + 1


def bucket_of(seconds: float) -> int:
    """Index of the bucket a duration falls in (``len(BOUNDS)`` is ``+Inf``)."""
    return bisect_left(BOUNDS, seconds)


def quantile(q: float, counts: Sequence[int]) -> float | None:
    """The ``q`` quantile (0..1) of merged bucket counts, in seconds; None when empty."""
    if not 0 <= q <= 1:
        raise ValueError("a quantile lies between 0 and 1")
    if len(counts) != BUCKETS:
        raise ValueError(f"expected {BUCKETS} bucket counts, got {len(counts)}")
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(BOUNDS):
                return BOUNDS[-1]
            lower = BOUNDS[index - 1] if index else 0.0
            upper = BOUNDS[index]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return BOUNDS[-1]  # unreachable: the loop always reaches the rank
