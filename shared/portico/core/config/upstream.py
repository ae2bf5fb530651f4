"""Upstream kinds a Route can dispatch to: http, lambda, grpc, service (mesh), aggregate and mock."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from portico.core.config.base import Duration, Model, check_regex, require_one_of
from portico.core.config.context import settings_from
from portico.core.config.grpc import GrpcUpstream
from portico.core.netguard import ForbiddenDestination, check_upstream_url
from portico.core.upstream.retry import RetryOn  # the one retryOn vocabulary of the edge and the mesh

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def checked_url(value: str, info: ValidationInfo, what: str) -> str:
    """`value` when it passes the SSRF rules (loopback only with the local allowance); ValueError naming `what`."""
    try:
        check_upstream_url(value, allow_loopback=settings_from(info).allow_loopback)
    except ForbiddenDestination as exc:
        raise ValueError(f"{what} refused: {exc}") from exc
    return value


def no_query_or_fragment(value: str, what: str) -> None:
    if "?" in value or "#" in value:
        raise ValueError(
            f"{what} {value!r} has a query or fragment; Portico forwards the client's query string as it is, "
            "so write the URL without '?'/'#' (add parameters with the route's transform.request.query)"
        )


class RetryPolicy(Model):
    """Retries for idempotent methods (unless `non-idempotent` is listed), always on a connect failure, and on the
    `retryOn` conditions: Envoy's names (`5xx`, `gateway-error`, `reset`, ...) and status codes, as in the mesh."""

    attempts: int = Field(default=0, ge=0, le=10)
    per_try_timeout: Duration | None = None
    retry_on: list[int | str] = Field(default_factory=lambda: list[int | str]([502, 503, 504]))
    backoff: Duration = 0.025

    @field_validator("retry_on")
    @classmethod
    def _known(cls, value: list[int | str]) -> list[int | str]:
        RetryOn.parse(value)  # raises UnknownRetryOn (a ValueError) naming the bad entry
        return value


class PathRewrite(Model):
    """Envoy-style rewrite of the upstream path: replace the matched pathPrefix, or a regex substitution."""

    prefix: str | None = None
    regex: str | None = None
    substitution: str | None = None

    @model_validator(mode="after")
    def _one(self) -> PathRewrite:
        require_one_of(self, ("prefix", "regex"))
        if self.regex is not None:
            check_regex(self.regex)
            if self.substitution is None:
                raise ValueError("a regex rewrite needs a substitution")
        elif self.substitution is not None:
            raise ValueError("substitution goes with regex")
        if self.prefix is not None and not self.prefix.startswith("/"):
            raise ValueError("rewrite prefix must start with '/'")
        return self


class HttpUpstream(Model):
    """`url` may hold `{param}` placeholders filled from the route's path parameters; without any, the upstream
    path is the URL's path followed by the normalised request path (after `rewrite`)."""

    url: str
    timeout: Duration = 15.0
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    preserve_host: bool = False
    rewrite: PathRewrite | None = None

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str, info: ValidationInfo) -> str:
        # A query or fragment is refused rather than dropped: the upstream request carries the client's query
        # string, and a `?` the operator wrote would otherwise vanish without a word.
        no_query_or_fragment(value, "upstream")
        return checked_url(value, info, "upstream")


class LambdaUpstream(Model):
    function_name: str = Field(min_length=1)
    qualifier: str | None = None
    timeout: Duration = 15.0


class ServiceUpstream(Model):
    """A mesh service, reached through the registry with the edge's own mesh identity."""

    name: str = Field(min_length=1)
    path: str | None = None
    timeout: Duration = 15.0

    @field_validator("path")
    @classmethod
    def _plain_path(cls, value: str | None) -> str | None:
        if value is not None:
            no_query_or_fragment(value, "path")
        return value


class MockUpstream(Model):
    status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")

    @model_validator(mode="after")
    def _one_body(self) -> MockUpstream:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give body or json, not both")
        return self


class AggregatePart(Model):
    """One named part of an aggregate: any single upstream kind but aggregate, plus a field allowlist."""

    http: HttpUpstream | None = None
    lambda_: LambdaUpstream | None = Field(default=None, alias="lambda")
    service: ServiceUpstream | None = None
    mock: MockUpstream | None = None
    timeout: Duration | None = None
    fields: list[str] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> AggregatePart:
        require_one_of(self, ("http", "lambda_", "service", "mock"))
        return self


class AggregateUpstream(Model):
    parts: dict[str, AggregatePart] = Field(min_length=1)
    merge: Literal["object", "shallow"] = "object"
    timeout: Duration = 10.0
    on_partial_failure: Literal["fail", "degrade"] = "fail"
    max_parts: int = Field(default=8, ge=1, le=32)

    @model_validator(mode="after")
    def _fan_out_cap(self) -> AggregateUpstream:
        if len(self.parts) > self.max_parts:
            raise ValueError(f"{len(self.parts)} parts exceed maxParts {self.max_parts}")
        return self


class Upstream(Model):
    """Exactly one upstream kind."""

    http: HttpUpstream | None = None
    lambda_: LambdaUpstream | None = Field(default=None, alias="lambda")
    grpc: GrpcUpstream | None = None
    service: ServiceUpstream | None = None
    aggregate: AggregateUpstream | None = None
    mock: MockUpstream | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Upstream:
        require_one_of(self, ("http", "lambda_", "grpc", "service", "aggregate", "mock"))
        return self
