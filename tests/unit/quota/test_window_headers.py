"""Window maths and the RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11 syntax)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.quota.headers import LimitStatus, policy_field, ratelimit_field, sf_string
from portico.core.quota.plan import QuotaLimit
from portico.core.quota.window import TTL_GRACE_SECONDS, seconds_until_reset, window_at


def test_windows_align_to_the_epoch_not_to_the_first_request() -> None:
    window = window_at(1_700_000_059.9, 60)
    assert (window.start, window.end) == (1_700_000_040, 1_700_000_100)
    assert window_at(1_700_000_100.0, 60).index == window.index + 1  # the boundary belongs to the next window
    assert window.expires_at == window.end + TTL_GRACE_SECONDS


@given(now=st.floats(min_value=0, max_value=4e9, allow_nan=False), length=st.integers(1, 40 * 86400))
def test_now_is_inside_its_window_and_reset_is_at_least_one_second(now: float, length: int) -> None:
    window = window_at(now, length)
    assert window.start <= now < window.end
    reset = seconds_until_reset(window, now)
    assert 1 <= reset <= length
    assert now + reset >= window.end  # a client waiting `reset` seconds lands in the next window


def test_policy_field_lists_every_limit_as_a_quoted_item_with_q_and_w() -> None:
    limits = [QuotaLimit("burst", 10, 1), QuotaLimit("30d", 100_000, 2_592_000)]
    assert policy_field(limits) == '"burst";q=10;w=1, "30d";q=100000;w=2592000'


def test_ratelimit_field_gives_r_and_t_and_never_a_negative_number() -> None:
    field = ratelimit_field([LimitStatus("default", 50, 30), LimitStatus("daily", -3, 0)])
    assert field == '"default";r=50;t=30, "daily";r=0;t=0'


def test_sf_string_escapes_quotes_and_backslashes_and_rejects_control_characters() -> None:
    assert sf_string('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(ValueError):
        sf_string("bad\nname")
