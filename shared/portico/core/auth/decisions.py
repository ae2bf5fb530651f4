"""Caches of outside decisions (introspection answers, external authoriser results) that outlive config versions.

One AuthState per process, held by the edge's dependencies: a config reload builds new filters, which find
their caches here again, so an `apply` neither forgets answers nor sends a burst of calls to the authorisers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portico.core.auth.external import DecisionCache
from portico.core.auth.introspection import IntrospectionCache


@dataclass(slots=True)
class AuthState:
    introspection: dict[tuple[str, int], IntrospectionCache] = field(default_factory=dict)
    decisions: dict[str, DecisionCache] = field(default_factory=dict)

    def introspection_cache(self, endpoint: str, size: int) -> IntrospectionCache:
        key = (endpoint, size)
        if key not in self.introspection:
            self.introspection[key] = IntrospectionCache(size)
        return self.introspection[key]

    def decision_cache(self, authoriser: str) -> DecisionCache:
        """One cache per authoriser (function name or service URL), as API Gateway keeps one per authorizer."""
        if authoriser not in self.decisions:
            self.decisions[authoriser] = DecisionCache()
        return self.decisions[authoriser]
