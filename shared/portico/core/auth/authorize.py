"""Per-route authorisation of a verified identity: required scopes, then claim matchers."""

from __future__ import annotations

from collections.abc import Sequence

from portico.core.auth.errors import InsufficientScope
from portico.core.auth.identity import Identity
from portico.core.config.route import ClaimMatch


def authorize(identity: Identity, scopes: Sequence[str], claims: Sequence[ClaimMatch]) -> None:
    """Raise InsufficientScope (403) unless every scope is held and every claim matcher matches."""
    missing = [s for s in scopes if s not in identity.scopes]
    if missing:
        raise InsufficientScope(f"the credentials lack scope {' '.join(missing)}", tuple(scopes))
    for matcher in claims:
        if not claim_matches(identity, matcher):
            raise InsufficientScope(f"claim {matcher.name} does not have an accepted value", tuple(scopes))


def claim_matches(identity: Identity, matcher: ClaimMatch) -> bool:
    """A string claim equals one of the values; an array claim contains one. Other types never match."""
    value = identity.claims.get(matcher.name)
    if isinstance(value, str):
        return value in matcher.values
    if isinstance(value, list):
        return any(isinstance(v, str) and v in matcher.values for v in value)
    return False
