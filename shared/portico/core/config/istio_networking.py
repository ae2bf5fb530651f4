"""VirtualService and DestinationRule: the faithful subset of Istio's networking API that the sidecar implements."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from portico.core.config.base import Duration, Model, StringMatch
from portico.core.grpc.status import CODE_NAMES
from portico.core.upstream.retry import RetryOn

GRPC_CODES = {name: number for number, name in CODE_NAMES.items()}


class Percent(Model):
    value: float = Field(ge=0, le=100)


class PortSelector(Model):
    number: int = Field(ge=1, le=65535)


class Destination(Model):
    host: str = Field(min_length=1)
    subset: str | None = None
    port: PortSelector | None = None


class HeaderOperations(Model):
    set: dict[str, str] = Field(default_factory=dict)
    add: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)


class Headers(Model):
    request: HeaderOperations | None = None
    response: HeaderOperations | None = None


class HTTPMatchRequest(Model):
    name: str | None = None
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: dict[str, StringMatch] = Field(default_factory=dict)
    query_params: dict[str, StringMatch] = Field(default_factory=dict)
    without_headers: dict[str, StringMatch] = Field(default_factory=dict)
    ignore_uri_case: bool = False
    port: int | None = None
    source_labels: dict[str, str] = Field(default_factory=dict)


class HTTPRouteDestination(Model):
    destination: Destination
    weight: int = Field(default=0, ge=0, le=100)
    headers: Headers | None = None


class HTTPRewrite(Model):
    uri: str | None = None
    authority: str | None = None


class HTTPRetry(Model):
    attempts: int = Field(ge=0)
    per_try_timeout: Duration | None = None
    retry_on: str | None = None
    retry_remote_localities: bool | None = None

    @field_validator("retry_on")
    @classmethod
    def _known_conditions(cls, value: str | None) -> str | None:
        if value is not None:
            RetryOn.parse(value)  # Envoy's names or status codes; anything else is refused, naming it
        return value


class Delay(Model):
    fixed_delay: Duration
    percentage: Percent | None = None
    percent: int | None = Field(default=None, ge=0, le=100)


class Abort(Model):
    """Istio's abort: `httpStatus`, or `grpcStatus` as a gRPC code name in capitals (`UNAVAILABLE`, not 14)."""

    http_status: int | None = Field(default=None, ge=200, le=599)
    grpc_status: str | None = None
    percentage: Percent | None = None

    @model_validator(mode="after")
    def _one_status(self) -> Abort:
        if (self.http_status is None) == (self.grpc_status is None):
            raise ValueError("abort needs exactly one of httpStatus and grpcStatus")
        if self.grpc_status is not None and self.grpc_status not in GRPC_CODES:
            raise ValueError(f"grpcStatus {self.grpc_status!r} is not a gRPC status name (e.g. UNAVAILABLE)")
        return self


class HTTPFaultInjection(Model):
    delay: Delay | None = None
    abort: Abort | None = None


class CorsPolicy(Model):
    allow_origins: list[StringMatch] = Field(default_factory=list)
    allow_methods: list[str] = Field(default_factory=list)
    allow_headers: list[str] = Field(default_factory=list)
    expose_headers: list[str] = Field(default_factory=list)
    max_age: Duration | None = None
    allow_credentials: bool | None = None


class HTTPRoute(Model):
    name: str | None = None
    match: list[HTTPMatchRequest] = Field(default_factory=list)
    route: list[HTTPRouteDestination] = Field(default_factory=list)
    rewrite: HTTPRewrite | None = None
    timeout: Duration | None = None
    retries: HTTPRetry | None = None
    fault: HTTPFaultInjection | None = None
    mirror: Destination | None = None
    mirror_percentage: Percent | None = None
    cors_policy: CorsPolicy | None = None
    headers: Headers | None = None

    @model_validator(mode="after")
    def _weights(self) -> HTTPRoute:
        if not self.route:
            raise ValueError("an http route needs at least one route destination")
        if len(self.route) > 1 and sum(d.weight for d in self.route) != 100:
            raise ValueError("weights of a split must add up to 100")
        return self


class RouteDestination(Model):
    """A tcp/tls route's destination: no header operations at L4."""

    destination: Destination
    weight: int = Field(default=0, ge=0, le=100)


def _l4_weights(route: list[RouteDestination], kind: str) -> None:
    if not route:
        raise ValueError(f"a {kind} route needs at least one route destination")
    if len(route) > 1 and sum(d.weight for d in route) != 100:
        raise ValueError("weights of a split must add up to 100")


class L4MatchAttributes(Model):
    """Istio's tcp match; sourceLabels, gateways, destinationSubnets and sourceNamespace are refused by name
    before this model runs (config/unsupported.py)."""

    port: int | None = Field(default=None, ge=1, le=65535)


class TCPRoute(Model):
    match: list[L4MatchAttributes] = Field(default_factory=list)
    route: list[RouteDestination] = Field(default_factory=list)

    @model_validator(mode="after")
    def _weights(self) -> TCPRoute:
        _l4_weights(self.route, "tcp")
        return self


class TLSMatchAttributes(Model):
    sni_hosts: list[str] = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("sni_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            wildcard_ok = host == "*" or (host.startswith("*.") and "*" not in host[1:])
            if not host or ("*" in host and not wildcard_ok):
                raise ValueError(f"sniHosts entry {host!r} must be a host name, '*' or '*.suffix'")
        return [h.lower() for h in value]


class TLSRoute(Model):
    match: list[TLSMatchAttributes] = Field(min_length=1)
    route: list[RouteDestination] = Field(default_factory=list)

    @model_validator(mode="after")
    def _weights(self) -> TLSRoute:
        _l4_weights(self.route, "tls")
        return self


class VirtualServiceSpec(Model):
    hosts: list[str] = Field(min_length=1)
    gateways: list[str] = Field(default_factory=list)
    http: list[HTTPRoute] = Field(default_factory=list)
    tcp: list[TCPRoute] = Field(default_factory=list)
    tls: list[TLSRoute] = Field(default_factory=list)
    export_to: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_routes(self) -> VirtualServiceSpec:
        if not (self.http or self.tcp or self.tls):
            raise ValueError("a VirtualService needs at least one route in http, tcp or tls")
        return self


class ConsistentHash(Model):
    http_header_name: str | None = None
    use_source_ip: bool | None = None
    http_query_parameter_name: str | None = None


class LoadBalancerSettings(Model):
    simple: Literal["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"] | None = None
    consistent_hash: ConsistentHash | None = None
    warmup_duration_secs: Duration | None = None


class TcpKeepalive(Model):
    """SO_KEEPALIVE on the sidecar's mesh-side sockets of opaque TCP streams; unset fields keep the OS defaults."""

    probes: int | None = Field(default=None, ge=1, le=127)
    time: Duration | None = None
    interval: Duration | None = None


class TcpSettings(Model):
    max_connections: int | None = Field(default=None, ge=1)
    connect_timeout: Duration | None = None
    max_connection_duration: Duration | None = None
    idle_timeout: Duration | None = None
    tcp_keepalive: TcpKeepalive | None = None


class HttpSettings(Model):
    http1_max_pending_requests: int | None = Field(default=None, ge=1)
    http2_max_requests: int | None = Field(default=None, ge=1)
    max_requests_per_connection: int | None = Field(default=None, ge=0)
    max_retries: int | None = Field(default=None, ge=0)
    idle_timeout: Duration | None = None
    max_concurrent_streams: int | None = None
    h2_upgrade_policy: Literal["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] | None = None
    use_client_protocol: bool | None = None


class ConnectionPoolSettings(Model):
    tcp: TcpSettings | None = None
    http: HttpSettings | None = None


class OutlierDetection(Model):
    consecutive_errors: int | None = Field(default=None, ge=0)
    consecutive_gateway_errors: int | None = Field(default=None, ge=0)
    consecutive_5xx_errors: int | None = Field(default=None, ge=0, alias="consecutive5xxErrors")
    interval: Duration | None = None
    base_ejection_time: Duration | None = None
    max_ejection_percent: int | None = Field(default=None, ge=0, le=100)
    min_health_percent: int | None = Field(default=None, ge=0, le=100)
    split_external_local_origin_errors: bool | None = None
    consecutive_local_origin_failures: int | None = None


class ClientTLSSettings(Model):
    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] = "ISTIO_MUTUAL"
    subject_alt_names: list[str] = Field(default_factory=list)
    sni: str | None = None


class TrafficPolicy(Model):
    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    outlier_detection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None


class Subset(Model):
    name: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    traffic_policy: TrafficPolicy | None = None


class DestinationRuleSpec(Model):
    host: str = Field(min_length=1)
    traffic_policy: TrafficPolicy | None = None
    subsets: list[Subset] = Field(default_factory=list)
    export_to: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_subsets(self) -> DestinationRuleSpec:
        names = [s.name for s in self.subsets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"subset names must be unique: {', '.join(dupes)}")
        return self
