"""Fixed buckets, merged percentiles and the in-memory minute (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paystead.platform.schema import ROLLUP_BUCKET_COLUMNS
from paystead.telemetry.histogram import BOUNDS, BUCKETS, bucket_of, quantile
from paystead.telemetry.rollups import RollupBuffer, labels


def counts(**by_bound: int) -> list[int]:
    """Bucket counts from ``le_<bound>=n`` (``le_inf`` for +Inf)."""
    out = [0] * BUCKETS
    for name, n in by_bound.items():
        bound = name.removeprefix("le_").replace("_", ".")
        out[len(BOUNDS) if bound == "inf" else BOUNDS.index(float(bound))] += n
    return out


def test_buckets_are_le_bounds_and_match_the_rollup_columns() -> None:
    assert BUCKETS == len(ROLLUP_BUCKET_COLUMNS) == 27
    assert list(BOUNDS) == sorted(BOUNDS) and 1.0 in BOUNDS  # the latency SLO's line
    assert bucket_of(0.0) == 0
    assert bucket_of(0.0001) == 0  # a bound belongs to its own bucket (le)
    assert bucket_of(0.00010001) == 1
    assert bucket_of(1.0) == BOUNDS.index(1.0)
    assert bucket_of(31.0) == len(BOUNDS)  # +Inf


def test_percentiles_interpolate_within_the_bucket_by_hand() -> None:
    # 10 requests in (2.5 ms, 5 ms], 80 in (10 ms, 15 ms], 10 in (100 ms, 150 ms]
    merged = counts(le_0_005=10, le_0_015=80, le_0_15=10)
    # p50: rank 50 -> 40th of 80 in (10, 15]: 10 + 5 * 40/80 = 12.5 ms
    assert quantile(0.5, merged) == pytest.approx(0.0125)
    # p95: rank 95 -> 5th of 10 in (100, 150]: 100 + 50 * 5/10 = 125 ms
    assert quantile(0.95, merged) == pytest.approx(0.125)
    # p99: rank 99 -> 9th of 10: 100 + 50 * 9/10 = 145 ms
    assert quantile(0.99, merged) == pytest.approx(0.145)
    # the first bucket's lower bound is 0
    assert quantile(0.5, counts(le_0_0001=4)) == pytest.approx(0.00005)
    # a rank in +Inf: all that is known is "more than the last bound"
    assert quantile(0.99, counts(le_0_01=1, le_inf=9)) == BOUNDS[-1]
    assert quantile(0.5, [0] * BUCKETS) is None
    with pytest.raises(ValueError):
        quantile(1.5, merged)


def test_a_minute_is_sealed_with_the_minute_it_gathered() -> None:
    start = datetime(2026, 4, 1, 12, 0, 30, tzinfo=UTC)
    buffer = RollupBuffer(start)
    key = ("api_request_duration", labels(**{"class": "2xx"}))
    buffer.observe(key, 0.012)
    buffer.observe(key, 0.004)
    buffer.add(("process_starts", labels()))
    buffer.sample(("host_cpu_percent", labels()), 40.0)
    buffer.seal(start + timedelta(seconds=30))  # just after 12:01
    buffer.seal(start + timedelta(seconds=90))  # an empty minute writes nothing
    assert buffer.pending_minutes == 1
    minute, data = buffer._sealed[0]
    assert minute == datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    series = data[key]
    assert (series.count, series.sum) == (2, pytest.approx(0.016))
    assert series.buckets[bucket_of(0.012)] == 1 and series.buckets[bucket_of(0.004)] == 1
    assert data[("process_starts", "{}")].count == 1
    assert labels(b="2", a="1") == '{"a":"1","b":"2"}'
