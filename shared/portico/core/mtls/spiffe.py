"""SPIFFE IDs (`spiffe://<trust-domain>/ns/<namespace>/sa/<service>`): parsing, building and principal matching."""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEME = "spiffe://"
DEFAULT_TRUST_DOMAIN = "cluster.local"  # Istio's default, so Istio AuthorizationPolicy files work unchanged
DEFAULT_NAMESPACE = "default"

# The SPIFFE ID spec: a trust domain is lower-case letters, digits, '.', '-' and '_'; path segments add upper case.
_TRUST_DOMAIN = re.compile(r"^[a-z0-9._-]{1,255}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


class InvalidSpiffeId(ValueError):
    """A string that is not a SPIFFE ID of the form Portico issues and accepts."""


@dataclass(frozen=True, slots=True)
class SpiffeId:
    """A workload identity. Only the Istio-style `/ns/<namespace>/sa/<service>` path is issued and accepted."""

    trust_domain: str
    namespace: str
    service: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.trust_domain}/ns/{self.namespace}/sa/{self.service}"

    @property
    def principal(self) -> str:
        """Istio's principal form: the ID without its scheme, e.g. `cluster.local/ns/default/sa/orders`."""
        return f"{self.trust_domain}/ns/{self.namespace}/sa/{self.service}"

    @property
    def dns_name(self) -> str:
        """The DNS name an ACM certificate carries for this identity: `<service>.<namespace>.svc.<trust-domain>`."""
        return f"{self.service}.{self.namespace}.svc.{self.trust_domain}"


def build(trust_domain: str, namespace: str, service: str) -> SpiffeId:
    """A validated SpiffeId from its parts (raises InvalidSpiffeId with the reason)."""
    return parse(f"{SCHEME}{trust_domain}/ns/{namespace}/sa/{service}")


def parse(text: str) -> SpiffeId:
    """Parse `spiffe://td/ns/<ns>/sa/<sa>` strictly: no query, fragment, port, userinfo, dot or empty segments."""
    if not text.startswith(SCHEME):
        raise InvalidSpiffeId(f"{text!r} does not start with {SCHEME}")
    rest = text[len(SCHEME) :]
    trust_domain, sep, path = rest.partition("/")
    if not _TRUST_DOMAIN.match(trust_domain):
        raise InvalidSpiffeId(f"{text!r}: trust domain must be lower-case letters, digits, '.', '-' or '_'")
    segments = path.split("/") if sep else []
    if len(segments) != 4 or segments[0] != "ns" or segments[2] != "sa":
        raise InvalidSpiffeId(f"{text!r}: path must be /ns/<namespace>/sa/<service>")
    for segment in (segments[1], segments[3]):
        if not _SEGMENT.match(segment) or segment in (".", ".."):
            raise InvalidSpiffeId(f"{text!r}: bad path segment {segment!r}")
    return SpiffeId(trust_domain, segments[1], segments[3])


def from_dns_name(name: str, trust_domain: str) -> SpiffeId | None:
    """The identity an ACM certificate's DNS SAN stands for, or None when it is not `<svc>.<ns>.svc.<td>`.

    ACM private certificates can only carry DNS names, so the ACM path maps this Kubernetes-style name onto the
    SPIFFE ID; only names under our own trust domain count.
    """
    suffix = f".svc.{trust_domain}"
    if not name.endswith(suffix):
        return None
    head = name[: -len(suffix)].split(".")
    if len(head) != 2:
        return None
    try:
        return build(trust_domain, head[1], head[0])
    except InvalidSpiffeId:
        return None


def principal_matches(pattern: str, identity: SpiffeId) -> bool:
    """Istio principal matching: exact, `*` (any verified peer), `prefix*` or `*suffix`.

    Patterns may be written with or without the `spiffe://` scheme; both compare against the schemeless form.
    """
    return string_matches(pattern.removeprefix(SCHEME), identity.principal)


def string_matches(pattern: str, value: str) -> bool:
    """Istio's string match for policy fields: `*` presence, `x*` prefix, `*x` suffix, otherwise exact."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern
