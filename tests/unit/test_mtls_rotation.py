"""Rotation scheduling on a paused clock, and trust-bundle overlap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.mtls.bundle import TrustAnchor, TrustBundle, update_bundle
from portico.core.mtls.rotation import RotationSettings, renewal_time, retry_delay

DAY = 86400.0
NO_JITTER = RotationSettings(jitter=0.0)


def test_renews_at_two_thirds_of_the_lifetime_by_default() -> None:
    assert renewal_time(1000.0, 1000.0 + DAY, 1000.0, NO_JITTER, draw=0.5) == pytest.approx(1000.0 + DAY * 2 / 3)


def test_fraction_is_configurable() -> None:
    half = RotationSettings(renew_fraction=0.5, jitter=0.0)
    assert renewal_time(0.0, 100.0, 0.0, half, draw=0.0) == 50.0


def test_max_interval_caps_the_wait() -> None:
    every_3s = RotationSettings(jitter=0.0, max_interval=3.0)
    assert renewal_time(0.0, 365 * DAY, 10.0, every_3s, draw=0.0) == 13.0


def test_a_certificate_obtained_late_is_renewed_now_not_in_the_past() -> None:
    assert renewal_time(0.0, 90.0, 80.0, NO_JITTER, draw=0.0) == 80.0


@given(st.floats(0, 1e9), st.floats(1, 1e7), st.floats(0, 0.999))
def test_jitter_only_ever_renews_earlier_and_within_the_spread(start: float, lifetime: float, draw: float) -> None:
    settings = RotationSettings()
    due = renewal_time(start, start + lifetime, start, settings, draw)
    assert start + lifetime * (2 / 3 - settings.jitter) - 1e-6 <= due <= start + lifetime * 2 / 3 + 1e-6


def test_retry_backs_off_exponentially_up_to_the_cap() -> None:
    settings = RotationSettings(retry_min=1.0, retry_max=8.0)
    far = 1e9
    assert [retry_delay(n, 0.0, far, settings) for n in (1, 2, 3, 4, 5, 9)] == [1, 2, 4, 8, 8, 8]


def test_retry_tightens_near_expiry() -> None:
    settings = RotationSettings(retry_min=1.0, retry_max=60.0)
    assert retry_delay(10, now=100.0, not_after=120.0, settings=settings) == 5.0
    assert retry_delay(10, now=100.0, not_after=101.0, settings=settings) == 1.0


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        RotationSettings(renew_fraction=1.0)
    with pytest.raises(ValueError):
        RotationSettings(max_interval=0)


OLD = TrustAnchor("old", b"OLD\n", not_after=10_000.0)
NEW = TrustAnchor("new", b"NEW\n", not_after=20_000.0)


def test_a_dropped_ca_stays_trusted_for_the_overlap_then_goes() -> None:
    bundle = update_bundle(TrustBundle(), [OLD], now=0.0, overlap=100.0)
    bundle = update_bundle(bundle, [NEW], now=10.0, overlap=100.0)
    assert bundle.fingerprints == {"old", "new"}
    bundle = update_bundle(bundle, [NEW], now=50.0, overlap=100.0)  # the deadline does not slide
    assert bundle.fingerprints == {"old", "new"}
    bundle = update_bundle(bundle, [NEW], now=111.0, overlap=100.0)
    assert bundle.fingerprints == {"new"}
    assert bundle.pem == b"NEW\n"


def test_overlap_never_outlives_the_ca_itself_and_expired_anchors_are_dropped() -> None:
    bundle = update_bundle(TrustBundle(), [OLD, NEW], now=0.0, overlap=1e9)
    bundle = update_bundle(bundle, [NEW], now=9_999.0, overlap=1e9)
    assert "old" in bundle.fingerprints
    bundle = update_bundle(bundle, [NEW], now=10_001.0, overlap=1e9)
    assert bundle.fingerprints == {"new"}
    assert update_bundle(TrustBundle(), [OLD], now=10_001.0, overlap=0).fingerprints == frozenset()


def test_a_ca_that_comes_back_is_no_longer_retiring() -> None:
    bundle = update_bundle(TrustBundle(), [OLD], now=0.0, overlap=100.0)
    bundle = update_bundle(bundle, [NEW], now=10.0, overlap=100.0)
    bundle = update_bundle(bundle, [NEW, OLD], now=20.0, overlap=100.0)
    assert bundle.retiring == {}
