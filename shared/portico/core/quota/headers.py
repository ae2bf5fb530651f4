"""RateLimit-Policy and RateLimit fields as structured-field Lists (draft-ietf-httpapi-ratelimit-headers-11).

RateLimit-Policy: "burst";q=10;w=1, "monthly";q=100000;w=2592000   (quota q per window w seconds)
RateLimit: "burst";r=4;t=1                                         (r quota left, t seconds left in the window)
No `pk` parameter: the partition key would echo a consumer id or address, and the draft asks servers not to
return identifying partition keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portico.core.quota.plan import QuotaLimit

QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """What a client may still spend under one limit, and for how long."""

    name: str
    remaining: int
    reset: int


def sf_string(value: str) -> str:
    """A structured-field String (RFC 9651 section 3.3.3): quoted, with backslash and quote escaped."""
    if any(ord(ch) < 0x20 or ord(ch) > 0x7E for ch in value):
        raise ValueError(f"{value!r} is not printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def policy_field(limits: Iterable[QuotaLimit]) -> str:
    return ", ".join(f"{sf_string(limit.name)};q={limit.requests};w={limit.window}" for limit in limits)


def ratelimit_field(statuses: Iterable[LimitStatus]) -> str:
    return ", ".join(f"{sf_string(s.name)};r={max(0, s.remaining)};t={max(0, s.reset)}" for s in statuses)
