"""The Portal kind: how consumers sign in to the developer portal, and what a new consumer gets.

One Portal document turns on sign-in and self-service keys (docs/portal.md). Without one the portal is the
read-only API reference it always was.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from portico.core.config.base import Duration, Model
from portico.core.config.context import settings_from
from portico.core.netguard import ForbiddenDestination, check_host

CALLBACK_PATH = "/_portico/portal/callback"


class PortalSignIn(Model):
    """OIDC authorization code with PKCE against an Issuer that declares its authorization and token endpoints."""

    issuer: str = Field(min_length=1, description="An Issuer name; it must set authorizationEndpoint and tokenEndpoint")
    client_id: str = Field(min_length=1, max_length=256, description="The portal's OAuth client at that issuer")
    redirect_uri: str = Field(description=f"This portal's callback, ending in {CALLBACK_PATH}")
    scopes: list[str] = Field(default_factory=lambda: ["openid"], min_length=1)

    @field_validator("redirect_uri")
    @classmethod
    def _redirect_uri(cls, value: str, info: ValidationInfo) -> str:
        parts = urlsplit(value)
        if parts.path != CALLBACK_PATH or parts.query or parts.fragment or not parts.hostname:
            raise ValueError(f"redirectUri is this portal's https://<host>{CALLBACK_PATH}, with no query")
        if parts.scheme == "https":
            return value
        if parts.scheme == "http" and settings_from(info).allow_loopback:
            try:
                check_host(parts.hostname, allow_loopback=False)
            except ForbiddenDestination:
                return value  # loopback in local development: the session cookie then goes without Secure
        raise ValueError("redirectUri must use https (plain http only on loopback in local development)")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include openid: the portal signs consumers in with the ID token")
        return value


class PortalSpec(Model):
    sign_in: PortalSignIn
    plan: str | None = Field(default=None, description="The RateLimitPolicy a newly signed-in consumer gets")
    approval: Literal["auto", "manual"] = Field(
        default="auto", description="manual: new consumers stay pending until `portico consumers approve`"
    )
    max_keys: int = Field(default=5, ge=1, le=50, description="Active keys one consumer may hold")
    session_ttl: Duration = Field(default=1800.0, description="Portal session lifetime (1m to 12h)")
    rate_limit: str | None = Field(
        default=None, description="RateLimitPolicy for the portal's own endpoints (default: 60 a minute per address)"
    )

    @field_validator("session_ttl")
    @classmethod
    def _ttl(cls, value: float) -> float:
        if not 60 <= value <= 43200:
            raise ValueError("sessionTtl is between 1m and 12h")
        return value
