"""Route protection config: IP rules, request validation, external authorisation, introspection, client certificates.

Everything a rule needs is checked here, at config time (CIDRs parse, schemas are valid JSON Schema, URLs pass
the SSRF rules), so the edge only compiles what it is given. Files a route names (a schema, an OpenAPI document)
are read when the YAML is read and stored as their content, as `descriptorSet` is for gRPC.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from portico.core.config.base import Duration, Model, require_one_of
from portico.core.config.context import settings_from
from portico.core.config.upstream import checked_url
from portico.core.iprules import IpNetwork, IpRuleSet


def parse_cidrs(values: list[str], where: str) -> tuple[IpNetwork, ...]:
    """CIDRs (or bare addresses) as networks; host bits set is an error, as it usually hides a typo."""
    out: list[IpNetwork] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{where}: {value!r} is not a CIDR: {exc}") from None
    return tuple(out)


class IpRules(Model):
    """Deny wins; with `allow` given, only listed sources pass. IPv4 and IPv6 CIDRs, or single addresses."""

    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cidrs(self) -> IpRules:
        parse_cidrs(self.allow, "allow")
        parse_cidrs(self.deny, "deny")
        if not self.allow and not self.deny:
            raise ValueError("give allow, deny or both")
        return self

    def rule_set(self) -> IpRuleSet:
        return IpRuleSet(parse_cidrs(self.allow, "allow"), parse_cidrs(self.deny, "deny"))


def _read_json_or_yaml(info: ValidationInfo, path: str, what: str) -> Any:
    reader = settings_from(info).read_file
    if reader is None:
        raise ValueError(f"{what} {path!r} is a file path, which only a YAML file being read can resolve")
    try:
        data = reader(path)
    except OSError as exc:
        raise ValueError(f"{what} {path!r} cannot be read: {exc.strerror or exc}") from None
    from portico.core.untrusted import UntrustedInputError, load_yaml  # bounded: YAML reads JSON files too

    try:
        return load_yaml(data)
    except UntrustedInputError as exc:
        raise ValueError(f"{what} {path!r}: {exc}") from None


def check_schema(schema: Any, where: str) -> None:
    """A JSON Schema (2020-12 unless it names its `$schema`), checked against its meta-schema."""
    if not isinstance(schema, dict | bool):
        raise ValueError(f"{where}: a JSON Schema is an object (or true/false)")
    from portico.core.validation.schemas import SchemaError, check  # lazy: jsonschema only for routes using it

    try:
        check(schema)
    except SchemaError as exc:
        raise ValueError(f"{where}: invalid JSON Schema: {exc}") from None


class SchemaSource(Model):
    """One JSON Schema: inline (`schema`) or from a file (`schemaFile`, embedded as `schema` when read)."""

    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _embed(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and data.get("schemaFile") and data.get("schema") is None:
            data = {**data, "schema": _read_json_or_yaml(info, str(data["schemaFile"]), "schemaFile")}
        return data

    @model_validator(mode="after")
    def _valid(self) -> SchemaSource:
        if self.schema_ is None:
            raise ValueError("give schema (inline) or schemaFile")
        check_schema(self.schema_, "schema")
        return self


class OpenApiOperation(Model):
    """An operation of an OpenAPI 3.1 document: its parameters and JSON request body become the route's schemas.

    `file` is read when the YAML is read; the document is stored as `document`.
    """

    file: str | None = None
    document: dict[str, Any] | None = None
    operation_id: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _embed(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and data.get("file") and data.get("document") is None:
            data = {**data, "document": _read_json_or_yaml(info, str(data["file"]), "openapi file")}
        return data

    @model_validator(mode="after")
    def _operation(self) -> OpenApiOperation:
        if self.document is None:
            raise ValueError("give file (an OpenAPI 3.1 document) or document")
        from portico.core.validation.openapi import OpenApiError, operation_schemas

        try:
            schemas = operation_schemas(self.document, self.operation_id)
        except OpenApiError as exc:
            raise ValueError(f"openapi: {exc}") from None
        for where, schema in schemas.items():
            check_schema(schema, f"openapi {self.operation_id} {where}")
        return self


class Validation(Model):
    """Request validation: JSON Schemas for path parameters, query, headers and the JSON body.

    Path, query and header values arrive as strings; they are converted to the type the schema's property names
    (integer, number, boolean; a repeated query parameter to an array) before validation, as OpenAPI does.
    `response` validates 2xx JSON responses and only logs what it finds (staging).
    """

    path: SchemaSource | None = None
    query: SchemaSource | None = None
    headers: SchemaSource | None = None
    body: SchemaSource | None = None
    openapi: OpenApiOperation | None = None
    response: SchemaSource | None = None
    max_depth: int = Field(default=32, ge=1, le=256)

    @model_validator(mode="after")
    def _something(self) -> Validation:
        parts = (self.path, self.query, self.headers, self.body, self.response)
        if self.openapi is not None and any(p is not None for p in parts[:4]):
            raise ValueError("openapi gives the path, query, headers and body schemas: do not give them too")
        if self.openapi is None and all(p is None for p in parts):
            raise ValueError("give at least one of path, query, headers, body, response or openapi")
        return self


class ExternalLambda(Model):
    function_name: str = Field(min_length=1)
    qualifier: str | None = None


class ExternalHttp(Model):
    """Envoy ext_authz HTTP: the request's method and path (after `pathPrefix`) and the listed headers are sent."""

    url: str
    allowed_headers: list[str] = Field(default_factory=lambda: ["authorization", "cookie"])
    upstream_headers: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _safe(cls, value: str, info: ValidationInfo) -> str:
        return checked_url(value, info, "external.http.url")


class ExternalAuth(Model):
    """A Lambda REQUEST authorizer (API Gateway's contract) or an HTTP authorisation service (Envoy's ext_authz).

    Failure (error, timeout, malformed answer) denies unless `failureMode: open`; the denial status is
    `statusOnError` (403, as Envoy's default).
    """

    lambda_: ExternalLambda | None = Field(default=None, alias="lambda")
    http: ExternalHttp | None = None
    identity_sources: list[str] = Field(default_factory=lambda: ["$request.header.authorization"])
    cache_ttl: Duration = 300.0
    timeout: Duration = 1.0
    failure_mode: Literal["closed", "open"] = "closed"
    status_on_error: int = Field(default=403, ge=400, le=599)

    @model_validator(mode="after")
    def _one(self) -> ExternalAuth:
        require_one_of(self, ("lambda_", "http"))
        from portico.core.auth.external import parse_identity_source

        for source in self.identity_sources:
            parse_identity_source(source)
        if self.cache_ttl > 3600:
            raise ValueError("cacheTtl is at most 1h (API Gateway's limit)")
        return self


class ClientCredentials(Model):
    """Where the introspection client's id and secret come from: environment variables or a Secrets Manager secret
    holding {"clientId", "clientSecret"}. Never the values themselves."""

    client_id_env: str | None = None
    client_secret_env: str | None = None
    secret_id: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ClientCredentials:
        from_env = self.client_id_env is not None or self.client_secret_env is not None
        if from_env and (self.client_id_env is None or self.client_secret_env is None):
            raise ValueError("give both clientIdEnv and clientSecretEnv")
        if from_env == (self.secret_id is not None):
            raise ValueError("give clientIdEnv and clientSecretEnv, or secretId (Secrets Manager)")
        return self


class Introspection(Model):
    """OAuth2 token introspection (RFC 7662) for opaque bearer tokens."""

    endpoint: str
    credentials: ClientCredentials
    issuer: str | None = None
    audiences: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    timeout: Duration = 2.0
    cache_ttl: Duration = 300.0  # the most a result is cached; never beyond the token's exp
    cache_size: int = Field(default=10_000, ge=1, le=1_000_000)

    @field_validator("endpoint")
    @classmethod
    def _safe(cls, value: str, info: ValidationInfo) -> str:
        return checked_url(value, info, "introspection.endpoint")


class ClientCertAuth(Model):
    """Requires a verified client certificate (API Gateway mTLS); lists, when given, must each match.

    `subjects` and `issuers` are RFC 4514 distinguished names compared exactly; `sans` match DNS, URI, email or IP
    subject alternative names exactly, and `*.example.com` matches one DNS label.
    """

    subjects: list[str] = Field(default_factory=list)
    issuers: list[str] = Field(default_factory=list)
    sans: list[str] = Field(default_factory=list)
    consumer_from: Literal["san", "subject", "none"] = "san"
