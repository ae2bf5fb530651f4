"""The Issuer and Consumer kinds: who may present tokens, and the API-key holders with their plans."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from portico.core.auth.keys import JwkError, parse_jwks
from portico.core.config.base import Duration, Model
from portico.core.config.context import settings_from
from portico.core.config.ratelimit import check_window
from portico.core.netguard import ForbiddenDestination, check_host, check_upstream_url

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HMAC_ALGORITHMS = frozenset({"HS256"})


class IssuerSpec(Model):
    issuer: str = Field(min_length=1)
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None
    audiences: list[str] = Field(min_length=1)
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"], min_length=1)
    leeway: Duration = 60.0
    typ: str | None = None
    forward_claims: list[str] = Field(default_factory=list)
    hmac_secret: str | None = Field(default=None, description="HS256 only: at least 32 bytes")
    hmac_kid: str | None = Field(
        default=None, description="HS256 only: the secret's key id; a token that carries a kid must then match it"
    )
    # OIDC endpoints for developer-portal sign-in (docs/portal.md): the authorization code flow with PKCE
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        allowed = ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS
        bad = [a for a in value if a not in allowed]
        if bad:
            raise ValueError(f"unsupported algorithm(s) {bad}; allowed: {', '.join(sorted(allowed))}")
        return value

    @field_validator("jwks_uri", "authorization_endpoint", "token_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        name = {"jwks_uri": "jwksUri", "authorization_endpoint": "authorizationEndpoint"}.get(
            info.field_name or "", "tokenEndpoint"
        )
        allow_loopback = settings_from(info).allow_loopback
        try:
            check_upstream_url(value, allow_loopback=allow_loopback)
        except ForbiddenDestination as exc:
            raise ValueError(f"{name} refused: {exc}") from exc
        if urlsplit(value).scheme == "http":
            # keys, codes and tokens in plaintext could be read or swapped: only the local dev issuer on loopback may
            try:
                check_host(urlsplit(value).hostname or "", allow_loopback=False)
            except ForbiddenDestination:
                return value  # a loopback host, and the loopback allowance is on (checked above)
            raise ValueError(f"{name} must use https (plain http is accepted only for loopback in local development)")
        return value

    @model_validator(mode="after")
    def _keys(self) -> IssuerSpec:
        hmac = HMAC_ALGORITHMS & set(self.algorithms)
        if hmac and (self.hmac_secret is None or len(self.hmac_secret.encode()) < 32):
            raise ValueError("HS256 needs hmacSecret of at least 32 bytes")
        if self.hmac_kid is not None and self.hmac_secret is None:
            raise ValueError("hmacKid names the key id of hmacSecret; give hmacSecret too")
        if hmac and ASYMMETRIC_ALGORITHMS & set(self.algorithms):
            raise ValueError("an issuer uses HS256 or asymmetric algorithms, never both (keys are bound to algorithms)")
        if not hmac and (self.jwks_uri is None) == (self.jwks is None):
            raise ValueError("give exactly one of jwksUri or jwks")
        if self.jwks is not None:
            try:
                keys = parse_jwks(self.jwks, self.algorithms)
            except JwkError as exc:
                raise ValueError(f"jwks: {exc}") from exc
            if not keys.keys:
                raise ValueError("jwks holds no usable key: " + "; ".join(keys.skipped or ("the set is empty",)))
        return self


class LimitOverride(Model):
    """Replaces the plan's limit with the same window, or adds a limit when the plan has none for that window."""

    requests: int = Field(ge=1)
    window: Duration
    name: str | None = None

    @field_validator("window")
    @classmethod
    def _window(cls, value: float) -> float:
        return check_window(value)


class ApiKeyRef(Model):
    """An API key as stored: only its SHA-256 hash, never the key."""

    id: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    status: Literal["active", "revoked"] = "active"
    label: str | None = Field(default=None, max_length=64, description="The holder's name for the key")
    created: int | None = Field(default=None, ge=0, description="Unix seconds when the key was made")


class ConsumerSpec(Model):
    status: Literal["active", "pending"] = Field(
        default="active", description="pending: signed up in the portal, keys refused until an operator approves"
    )
    plan: str | None = None
    api_keys: list[ApiKeyRef] = Field(default_factory=list)
    limits: list[LimitOverride] | None = None
    subjects: list[str] = Field(default_factory=list, description="JWT subjects that map to this consumer")
    scopes: list[str] = Field(default_factory=list, description="Scopes this consumer's API keys carry")
