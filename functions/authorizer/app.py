"""HTTP API Lambda authorizer entry point (payload 2.0, simple responses): JWT or API key, as the edge checks them.

Settings: PORTICO_AUTHORIZER_AUTH (a Route `auth` block as JSON), PORTICO_CONFIG_TABLE (Issuer and Consumer
documents), PORTICO_CONFIG_REFRESH_SECONDS. A bad setting fails the cold start instead of denying silently.
"""

from __future__ import annotations

from typing import Any

from portico.edge.authorizer import Authorizer

_AUTHORIZER = Authorizer.from_env()


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return _AUTHORIZER.handle(event)
