"""The trust bundle: CA certificates peers must chain to, with an overlap so a CA can be rotated safely.

When the source stops listing a CA, it stays trusted for `overlap` seconds (never past its own expiry): sidecars
that still present certificates from the old CA keep working while they renew from the new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    fingerprint: str  # SHA-256 of the DER certificate, hex
    pem: bytes
    not_after: float


@dataclass(frozen=True, slots=True)
class TrustBundle:
    anchors: tuple[TrustAnchor, ...] = ()
    retiring: Mapping[str, float] = field(default_factory=dict)  # fingerprint -> trusted until

    @property
    def pem(self) -> bytes:
        return b"".join(a.pem if a.pem.endswith(b"\n") else a.pem + b"\n" for a in self.anchors)

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(a.fingerprint for a in self.anchors)


def update_bundle(current: TrustBundle, fetched: Sequence[TrustAnchor], now: float, overlap: float) -> TrustBundle:
    """Merge what the source lists now into the bundle in use, keeping dropped anchors for the overlap."""
    listed = {a.fingerprint: a for a in fetched if a.not_after > now}
    anchors = list(listed.values())
    retiring: dict[str, float] = {}
    for anchor in current.anchors:
        if anchor.fingerprint in listed:
            continue
        until = min(current.retiring.get(anchor.fingerprint, now + overlap), anchor.not_after)
        if until > now:
            anchors.append(anchor)
            retiring[anchor.fingerprint] = until
    return TrustBundle(tuple(anchors), retiring)


def changed(before: TrustBundle, after: TrustBundle) -> bool:
    return before.fingerprints != after.fingerprints
