"""The peer's SPIFFE identity, read from a verified TLS connection, and the checks on it."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portico.core.mtls.spiffe import InvalidSpiffeId, SpiffeId, from_dns_name, parse


class PeerRejected(Exception):
    """The handshake succeeded, but the peer's certificate does not name an acceptable identity."""


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """Which identities a verified certificate may carry: one trust domain; DNS names only for the ACM path."""

    trust_domain: str
    accept_dns: bool = False


def peer_identity(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, policy: PeerPolicy) -> SpiffeId:
    """The identity of the peer on a connection whose chain OpenSSL has verified."""
    if ssl_object is None:
        raise PeerRejected("not a TLS connection")
    return identity_from_cert(ssl_object.getpeercert(), policy)


def identity_from_cert(cert: Mapping[str, Any] | None, policy: PeerPolicy) -> SpiffeId:
    """The identity in `getpeercert()`'s answer. It only has fields for a verified certificate, which is what
    makes it safe to trust: an unverified peer never gets this far."""
    if not cert:
        raise PeerRejected("the peer presented no verified certificate")
    sans = cert.get("subjectAltName", ())
    uris = [value for kind, value in sans if kind == "URI" and str(value).startswith("spiffe://")]
    if len(uris) > 1:
        raise PeerRejected("the peer certificate names more than one SPIFFE ID")
    if uris:
        try:
            identity = parse(str(uris[0]))
        except InvalidSpiffeId as exc:
            raise PeerRejected(str(exc)) from exc
    elif policy.accept_dns:
        mapped = {i for kind, v in sans if kind == "DNS" and (i := from_dns_name(str(v), policy.trust_domain))}
        if len(mapped) != 1:
            raise PeerRejected("the peer certificate names no SPIFFE ID and no mesh DNS name")
        identity = mapped.pop()
    else:
        raise PeerRejected("the peer certificate names no SPIFFE ID")
    if identity.trust_domain != policy.trust_domain:
        raise PeerRejected(f"peer {identity} is not in trust domain {policy.trust_domain}")
    return identity


def expect_identity(actual: SpiffeId, expected: SpiffeId) -> None:
    """Outbound: the server must be the service we meant to call, whatever address it answered on."""
    if actual != expected:
        raise PeerRejected(f"expected {expected}, but the server is {actual}")
