"""The Route kind: how a request is matched, authenticated, limited and dispatched at the edge."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from portico.core.config.base import Duration, Model, check_regex, require_one_of
from portico.core.config.compose import ApiVersion, CachePolicy, Deprecation, Transform
from portico.core.config.protection import ClientCertAuth, ExternalAuth, Introspection, IpRules, Validation
from portico.core.config.upstream import AggregatePart, Upstream

_TEMPLATE = re.compile(r"^/([^{}/]*|\{[A-Za-z_][A-Za-z0-9_]*\+?\})(/([^{}/]*|\{[A-Za-z_][A-Za-z0-9_]*\+?\}))*$")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
RESERVED_PREFIX = "/_portico"  # the developer portal answers here, before route match (docs/composition.md)


class ValueMatch(Model):
    """A header or query-parameter matcher: exactly one of exact, prefix, regex or present."""

    name: str = Field(min_length=1)
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> ValueMatch:
        require_one_of(self, ("exact", "prefix", "regex", "present"))
        if self.regex is not None:
            check_regex(self.regex)
        return self


class RouteMatch(Model):
    host: str | None = None
    methods: list[str] | None = None
    path: str | None = None
    path_prefix: str | None = None
    path_regex: str | None = None
    headers: list[ValueMatch] = Field(default_factory=list)
    query: list[ValueMatch] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_path(self) -> RouteMatch:
        require_one_of(self, ("path", "path_prefix", "path_regex"))
        if self.path is not None and not _TEMPLATE.match(self.path):
            raise ValueError(
                f"path {self.path!r} is not a template: segments are literal or {{name}}, and {{name+}} may end it"
            )
        if self.path_prefix is not None and not self.path_prefix.startswith("/"):
            raise ValueError("pathPrefix must start with '/'")
        if self.path_regex is not None:
            check_regex(self.path_regex)
        for path in (self.path, self.path_prefix):
            if path is not None and (path == RESERVED_PREFIX or path.startswith(RESERVED_PREFIX + "/")):
                raise ValueError(f"paths under {RESERVED_PREFIX}/ are reserved for the developer portal")
        return self

    def param_names(self) -> set[str]:
        return set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}", self.path or ""))

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        upper = [m.upper() for m in value]
        unknown = sorted(set(upper) - HTTP_METHODS)
        if unknown:
            raise ValueError(f"unknown HTTP method(s): {', '.join(unknown)}")
        return upper

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = value.lower()
        if "*" in host and not (host.startswith("*.") and "*" not in host[2:]):
            raise ValueError("a wildcard host is written *.example.com")
        return host


class ClaimMatch(Model):
    """A claim requirement: the claim equals one of `values` (a string claim) or contains one (an array claim)."""

    name: str = Field(min_length=1)
    values: list[str] = Field(min_length=1)


class JwtAuth(Model):
    issuers: list[str] = Field(min_length=1)
    scopes: list[str] = Field(default_factory=list)
    claims: list[ClaimMatch] = Field(default_factory=list)


class ApiKeyAuth(Model):
    header: str = "x-api-key"
    scopes: list[str] = Field(default_factory=list)


class NoAuth(Model):
    pass


class RouteAuth(Model):
    """Exactly one of jwt, apiKey, introspection, external or none; it is required on every route (a public route
    says `none: {}`). `clientCert` is checked in addition, or alone."""

    jwt: JwtAuth | None = None
    api_key: ApiKeyAuth | None = None
    introspection: Introspection | None = None
    external: ExternalAuth | None = None
    none: NoAuth | None = None
    client_cert: ClientCertAuth | None = None

    @model_validator(mode="after")
    def _one(self) -> RouteAuth:
        primary = ("jwt", "api_key", "introspection", "external", "none")
        require_one_of(self, primary, allow_none=self.client_cert is not None)
        return self

    @property
    def credential_free(self) -> bool:
        """No credential for the authentication filter to verify (a client certificate is checked before it)."""
        return self.jwt is None and self.api_key is None and self.introspection is None and self.external is None


class CorsPolicy(Model):
    allow_origins: list[str] = Field(min_length=1)
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "HEAD", "POST"])
    allow_headers: list[str] = Field(default_factory=list)
    expose_headers: list[str] = Field(default_factory=list)
    allow_credentials: bool = False
    max_age: Duration | None = None

    @model_validator(mode="after")
    def _credentials_need_origins(self) -> CorsPolicy:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError(
                "allowCredentials cannot be combined with allowOrigins '*' (the Fetch standard forbids it)"
            )
        return self


class RouteSpec(Model):
    match: RouteMatch
    auth: RouteAuth
    upstream: Upstream
    priority: int = 0
    rate_limit: str | None = None
    cors: CorsPolicy | None = None
    max_body_bytes: int | None = Field(default=None, ge=0)
    stage: Literal["live", "deprecated"] = "live"
    transform: Transform | None = None
    cache: CachePolicy | None = None
    version: ApiVersion | None = None
    deprecation: Deprecation | None = None
    ip_rules: IpRules | None = None
    validate_: Validation | None = Field(default=None, alias="validate")

    @property
    def deprecated(self) -> bool:
        return self.stage == "deprecated" or self.deprecation is not None

    @model_validator(mode="after")
    def _compose_fits_match(self) -> RouteSpec:
        request = self.transform.request if self.transform else None
        if request is not None and request.path is not None:
            unknown = sorted(request.path.placeholders() - self.match.param_names())
            if unknown:
                raise ValueError(
                    f"transform.request.path.template uses {', '.join(unknown)}, not parameters of match.path"
                )
        methods = set(self.match.methods or HTTP_METHODS)
        if self.cache is not None and not methods & {"GET", "HEAD"}:
            raise ValueError("cache applies only to GET and HEAD, and this route matches neither")
        return self

    @model_validator(mode="after")
    def _upstream_params_exist(self) -> RouteSpec:
        """A {param} the route's path does not define would reach the upstream as an empty segment: refuse it."""
        known = self.match.param_names()
        for where, template in _upstream_templates(self.upstream):
            unknown = sorted(set(_PLACEHOLDER.findall(template)) - known)
            if unknown:
                names = ", ".join(f"{{{n}}}" for n in unknown)
                raise ValueError(f"{where} uses {names}, which match.path does not define")
        return self


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}")


def _upstream_templates(upstream: Upstream) -> list[tuple[str, str]]:
    """Every upstream path the dispatcher fills with path parameters, named by its place in the spec."""
    found: list[tuple[str, str]] = []
    parts: dict[str, Upstream | AggregatePart] = {"": upstream}
    if upstream.aggregate is not None:
        parts = {f".aggregate.parts.{name}": part for name, part in upstream.aggregate.parts.items()}
    for prefix, kind in parts.items():
        if kind.http is not None:
            found.append((f"upstream{prefix}.http.url", urlsplit(kind.http.url).path))
        if kind.service is not None and kind.service.path is not None:
            found.append((f"upstream{prefix}.service.path", kind.service.path))
    return found
