"""When to renew a workload certificate: at a fraction of its lifetime (2/3 by default), with jitter and retries.

Pure: the caller passes the time and a random draw, so tests run on a paused clock.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RENEW_FRACTION = 2 / 3


@dataclass(frozen=True, slots=True)
class RotationSettings:
    """`renew_fraction` of the lifetime elapses before renewal; `jitter` (a fraction of the lifetime) pulls each
    renewal earlier by a random amount so tasks started together do not renew together; `max_interval` caps the
    time between renewals whatever the lifetime (a test or a cautious operator can renew every few seconds)."""

    renew_fraction: float = DEFAULT_RENEW_FRACTION
    jitter: float = 0.05
    max_interval: float | None = None
    retry_min: float = 1.0
    retry_max: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_fraction < 1:
            raise ValueError("renew_fraction must be between 0 and 1 (exclusive)")
        if not 0 <= self.jitter < self.renew_fraction:
            raise ValueError("jitter must be at least 0 and smaller than renew_fraction")
        if self.max_interval is not None and self.max_interval <= 0:
            raise ValueError("max_interval must be positive")
        if not 0 < self.retry_min <= self.retry_max:
            raise ValueError("retry delays must satisfy 0 < retry_min <= retry_max")


def renewal_time(
    not_before: float, not_after: float, obtained_at: float, settings: RotationSettings, draw: float
) -> float:
    """The wall-clock time to renew a certificate valid from `not_before` to `not_after`, obtained at `obtained_at`.

    `draw` is a random number in [0, 1) for the jitter. The result is never before `obtained_at`.
    """
    lifetime = max(not_after - not_before, 0.0)
    due = not_before + lifetime * (settings.renew_fraction - settings.jitter * draw)
    if settings.max_interval is not None:
        due = min(due, obtained_at + settings.max_interval)
    return max(due, obtained_at)


def retry_delay(failures: int, now: float, not_after: float, settings: RotationSettings) -> float:
    """How long to wait after `failures` failed renewals in a row: exponential, capped, and tighter near expiry.

    Near expiry the delay shrinks to a quarter of the time left (but never below `retry_min`), so a CA outage that
    ends before the certificate expires is noticed in time.
    """
    backoff: float = min(settings.retry_min * 2.0 ** max(failures - 1, 0), settings.retry_max)
    remaining = not_after - now
    if remaining > 0:
        backoff = min(backoff, max(remaining / 4, settings.retry_min))
    return backoff
