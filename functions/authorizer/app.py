"""Placeholder HTTP API Lambda authorizer so `sam build` works before the auth team's authorizer lands.

It denies every request (simple-response format, payload 2.0): a fail-closed default is the only safe stub.
"""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Deny: the real authorizer verifies the JWT or API key against the config table."""
    return {"isAuthorized": False, "context": {"reason": "authorizer not configured"}}
