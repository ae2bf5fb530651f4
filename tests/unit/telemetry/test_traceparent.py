"""W3C trace context: valid headers continue, invalid ones start afresh, X-Ray roots carry over, spans chain."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.telemetry.traceparent import continue_or_start, parse_traceparent, xray_root

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def rng(seed: int = 1) -> random.Random:
    return random.Random(seed)


@pytest.mark.parametrize(
    "header",
    [
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE[:-1]}-{SPAN}-01",
        "garbage",
        "",
    ],
)
def test_invalid_traceparents_are_ignored(header: str) -> None:
    assert parse_traceparent(header) is None
    assert continue_or_start(header, None, None, rng().randbytes).trace_id != TRACE


def test_a_valid_traceparent_is_continued_with_a_new_span() -> None:
    ctx = continue_or_start(f"00-{TRACE}-{SPAN}-01", "vendor=x", None, rng().randbytes)
    assert (ctx.trace_id, ctx.parent_id, ctx.flags, ctx.tracestate) == (TRACE, SPAN, "01", "vendor=x")
    assert ctx.span_id != SPAN and ctx.traceparent == f"00-{TRACE}-{ctx.span_id}-01"
    assert parse_traceparent(f"01-{TRACE}-{SPAN}-01-future") == (TRACE, SPAN, "01")  # later versions: read the four


def test_an_xray_root_becomes_the_w3c_trace_id() -> None:
    ctx = continue_or_start(None, None, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", rng().randbytes)
    assert ctx.trace_id == "5759e988bd862e3fe1be46a994272793"
    assert xray_root(ctx.trace_id) == "1-5759e988-bd862e3fe1be46a994272793"


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=8))
def test_each_hop_keeps_the_trace_and_links_to_its_parent(seed: int, hops: int) -> None:
    source = rng(seed)
    first = continue_or_start(None, None, None, source.randbytes)
    current = first
    for _ in range(hops):
        nxt = continue_or_start(current.traceparent, None, None, source.randbytes)
        assert nxt.trace_id == first.trace_id and nxt.parent_id == current.span_id
        child = nxt.child(source.randbytes)
        assert child.parent_id == nxt.span_id and child.trace_id == first.trace_id
        current = child
