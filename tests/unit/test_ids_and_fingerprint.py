"""Time-ordered ids and the idempotency request fingerprint."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paystead.ids import _ulid, new_id
from paystead.platform.idempotency import fingerprint

# Crockford base32, lower case: no i, l, o or u.
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
MAX_MS = 2**48 - 1


def decode(ulid: str) -> int:
    value = 0
    for char in ulid:
        value = value * 32 + CROCKFORD.index(char)
    return value


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize("prefix", ["pay", "re", "cus", "evt", "key"])
def test_new_id_prefix_and_length(prefix: str) -> None:
    object_id = new_id(prefix)
    head, _, tail = object_id.partition("_")
    assert head == prefix
    assert len(object_id) == len(prefix) + 1 + 26
    assert len(tail) == 26
    assert set(tail) <= set(CROCKFORD)


def test_new_id_carries_the_current_time() -> None:
    before = int(time.time() * 1000)
    ulid = new_id("pay").partition("_")[2]
    after = int(time.time() * 1000)
    assert before <= decode(ulid) >> 80 <= after


@given(ms=st.integers(0, MAX_MS))
def test_ulid_encodes_milliseconds_in_the_top_48_bits(ms: int) -> None:
    ulid = _ulid(now_ms=ms)
    assert len(ulid) == 26
    assert set(ulid) <= set(CROCKFORD)
    value = decode(ulid)
    assert value >> 80 == ms
    assert value < 2**128


@given(a=st.integers(0, MAX_MS), b=st.integers(0, MAX_MS))
def test_ids_sort_by_creation_time(a: int, b: int) -> None:
    if a < b:
        assert _ulid(now_ms=a) < _ulid(now_ms=b)
    elif a > b:
        assert _ulid(now_ms=a) > _ulid(now_ms=b)


def test_a_sequence_of_ids_sorts_in_creation_order() -> None:
    start = 1_775_044_800_000  # 2026-04-01
    ids = [f"pay_{_ulid(now_ms=start + i)}" for i in range(1000)]
    assert sorted(ids) == ids
    shuffled = ids.copy()
    random.Random(0).shuffle(shuffled)
    assert sorted(shuffled) == ids


def test_ids_within_one_millisecond_are_still_distinct() -> None:
    ids = {_ulid(now_ms=1_775_044_800_000) for _ in range(1000)}
    assert len(ids) == 1000


def test_ten_thousand_ids_are_unique() -> None:
    ids = [new_id("pay") for _ in range(10_000)]
    assert len(set(ids)) == len(ids)


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_is_a_sha256_hex_digest() -> None:
    digest = fingerprint("POST", "/v1/payments", {"amount": 100})
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")
    assert fingerprint("POST", "/v1/payments", {"amount": 100}) == digest


def test_fingerprint_ignores_key_order_at_every_level() -> None:
    a = {
        "amount": 5000,
        "currency": "INR",
        "metadata": {"order": "o_1", "cart": {"items": 2, "coupon": None}},
    }
    b = {
        "metadata": {"cart": {"coupon": None, "items": 2}, "order": "o_1"},
        "currency": "INR",
        "amount": 5000,
    }
    assert list(a) != list(b)
    assert fingerprint("POST", "/v1/payments", a) == fingerprint("POST", "/v1/payments", b)


BASE = {"amount": 5000, "currency": "INR", "metadata": {"order": "o_1"}}


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("PUT", "/v1/payments", BASE),
        ("POST", "/v1/refunds", BASE),
        ("POST", "/v1/payments/", BASE),
        ("POST", "/v1/payments", {**BASE, "amount": 5001}),
        ("POST", "/v1/payments", {**BASE, "amount": "5000"}),
        ("POST", "/v1/payments", {**BASE, "currency": "USD"}),
        ("POST", "/v1/payments", {**BASE, "metadata": {"order": "o_2"}}),
        ("POST", "/v1/payments", {**BASE, "metadata": {}}),
        ("POST", "/v1/payments", {**BASE, "capture": True}),
        ("POST", "/v1/payments", {**BASE, "description": None}),
        ("POST", "/v1/payments", {"amount": 5000, "currency": "INR"}),
        ("POST", "/v1/payments", {}),
    ],
)
def test_fingerprint_differs_on_method_path_and_values(
    method: str, path: str, params: dict[str, object]
) -> None:
    assert fingerprint(method, path, params) != fingerprint("POST", "/v1/payments", BASE)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reorder(v) for v in value]
    return value


@given(params=st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_fingerprint_invariant_to_key_order_property(params: dict[str, object]) -> None:
    reordered = _reorder(params)
    assert reordered == params
    assert fingerprint("POST", "/v1/payments", reordered) == fingerprint(
        "POST", "/v1/payments", params
    )


def test_ids_made_in_a_burst_sort_in_the_order_they_were_made() -> None:
    from paystead.ids import new_id as make

    burst = [make("evt") for _ in range(5000)]  # many share a millisecond
    assert burst == sorted(burst)
    assert len(set(burst)) == len(burst)
