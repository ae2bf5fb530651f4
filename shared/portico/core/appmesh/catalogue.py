"""Every App Mesh field the importer knows: its Portico target, or why it has none. docs/appmesh.md renders it.

A field is named by its camelCase path under `spec` with list indexes dropped. The longest listed prefix of a
field decides, so `httpRoute.match` covers a matcher the table does not list one by one only when it says so.
"""

from __future__ import annotations

from dataclasses import dataclass

NEEDS_PROTOCOLS = (
    "the sidecar now carries HTTP/2 and gRPC (docs/mesh-protocols.md), but imported gRPC routes are not yet "
    "verified end to end through it (the mesh protocols issue is still open): check such a route before relying on it"
)
PER_CALLER = "App Mesh enforces it in the receiving Envoy; Portico in each calling sidecar, per caller"


@dataclass(frozen=True, slots=True)
class Row:
    kind: str
    field: str
    status: str  # mapped | partial | unmapped | ignored
    target: str
    why: str = ""


def _route_rows(kind: str, route: str, status: str, why: str = "") -> list[Row]:
    http = f"VirtualService http[] ({route})"
    return [
        Row(kind, f"{route}.match.prefix", status, f"{http} match.uri.prefix", why),
        Row(kind, f"{route}.match.path.exact", status, f"{http} match.uri.exact", why),
        Row(kind, f"{route}.match.path.regex", status, f"{http} match.uri.regex", why),
        Row(kind, f"{route}.match.method", status, f"{http} match.method.exact", why),
        Row(kind, f"{route}.match.scheme", status, f"{http} match.scheme.exact", why),
        Row(kind, f"{route}.match.headers", status, f"{http} match.headers / withoutHeaders (invert)", why),
        Row(kind, f"{route}.match.headers.match.range", "unmapped", "-", "Portico header matchers have no range"),
        Row(kind, f"{route}.match.queryParameters", status, f"{http} match.queryParams", why),
        Row(kind, f"{route}.match.port", "unmapped", "-", "a VirtualService matches by host; one port per service"),
        Row(kind, f"{route}.action.weightedTargets.virtualNode", status, f"{http} route[].destination.subset", why),
        Row(
            kind,
            f"{route}.action.weightedTargets.weight",
            status,
            f"{http} route[].weight",
            "; ".join(filter(None, (why, "App Mesh weights are relative; scaled to sum to 100 (largest remainder)"))),
        ),
        Row(kind, f"{route}.action.weightedTargets.port", "unmapped", "-", "one port per service in Portico"),
        Row(kind, f"{route}.retryPolicy.maxRetries", status, f"{http} retries.attempts", why),
        Row(kind, f"{route}.retryPolicy.perRetryTimeout", status, f"{http} retries.perTryTimeout", why),
        Row(kind, f"{route}.retryPolicy.httpRetryEvents", status, f"{http} retries.retryOn", why),
        Row(kind, f"{route}.retryPolicy.tcpRetryEvents", status, f"{http} retries.retryOn connect-failure", why),
        Row(kind, f"{route}.timeout.perRequest", status, f"{http} timeout", why),
        Row(kind, f"{route}.timeout.idle", "unmapped", "-", "Portico has no per-route stream idle timeout"),
    ]


ROWS: tuple[Row, ...] = (
    # Mesh
    Row("Mesh", "", "ignored", "-", "an empty spec: one Portico deployment is one mesh"),
    Row("Mesh", "egressFilter.type", "mapped", "sidecar outbound", "Portico reaches registry services only (DROP_ALL)"),
    Row("Mesh", "serviceDiscovery.ipPreference", "unmapped", "-", "the registry keeps the address a sidecar registers"),
    # VirtualService
    Row("VirtualService", "provider.virtualRouter.virtualRouterName", "mapped", "VirtualService http[] of its routes"),
    Row(
        "VirtualService", "provider.virtualNode.virtualNodeName", "mapped", "VirtualService with one route to the node"
    ),
    Row("VirtualService", "", "unmapped", "-", "no provider: Portico routes only to registered services"),
    # VirtualRouter
    Row("VirtualRouter", "listeners.portMapping.port", "ignored", "-", "a VirtualService matches by host, not port"),
    Row("VirtualRouter", "listeners.portMapping.protocol", "mapped", "VirtualService http (protocol http)"),
    # Route
    *_route_rows("Route", "httpRoute", "mapped"),
    *_route_rows("Route", "http2Route", "partial", NEEDS_PROTOCOLS),
    Row(
        "Route",
        "grpcRoute.match.serviceName",
        "partial",
        "VirtualService http[] match.uri.prefix /svc/",
        NEEDS_PROTOCOLS,
    ),
    Row(
        "Route",
        "grpcRoute.match.methodName",
        "partial",
        "VirtualService http[] match.uri.exact /svc/m",
        NEEDS_PROTOCOLS,
    ),
    Row("Route", "grpcRoute.match.metadata", "partial", "VirtualService http[] match.headers", NEEDS_PROTOCOLS),
    Row("Route", "grpcRoute.match.port", "unmapped", "-", "a VirtualService matches by host; one port per service"),
    Row(
        "Route",
        "grpcRoute.action.weightedTargets.virtualNode",
        "partial",
        "route[].destination.subset",
        NEEDS_PROTOCOLS,
    ),
    Row(
        "Route", "grpcRoute.action.weightedTargets.weight", "partial", "route[].weight (scaled to 100)", NEEDS_PROTOCOLS
    ),
    Row("Route", "grpcRoute.action.weightedTargets.port", "unmapped", "-", "one port per service in Portico"),
    Row("Route", "grpcRoute.retryPolicy", "partial", "VirtualService http[] retries (gRPC retryOn)", NEEDS_PROTOCOLS),
    Row("Route", "grpcRoute.timeout.perRequest", "partial", "VirtualService http[] timeout", NEEDS_PROTOCOLS),
    Row("Route", "grpcRoute.timeout.idle", "unmapped", "-", "Portico has no per-route stream idle timeout"),
    Row("Route", "tcpRoute", "mapped", "VirtualService tcp[]"),
    Row("Route", "tcpRoute.match.port", "mapped", "VirtualService tcp[] match[].port"),
    Row(
        "Route",
        "tcpRoute.action.weightedTargets.virtualNode",
        "mapped",
        "VirtualService tcp[] route[].destination.subset",
    ),
    Row(
        "Route",
        "tcpRoute.action.weightedTargets.weight",
        "mapped",
        "VirtualService tcp[] route[].weight (scaled to 100)",
    ),
    Row("Route", "tcpRoute.action.weightedTargets.port", "mapped", "VirtualService tcp[] route[].destination.port"),
    Row(
        "Route",
        "tcpRoute.timeout.idle",
        "unmapped",
        "-",
        "no per-route idle timeout: set the target's DestinationRule connectionPool.tcp.idleTimeout",
    ),
    Row("Route", "priority", "mapped", "order of VirtualService http[] (lower App Mesh priority first)"),
    # VirtualNode
    Row("VirtualNode", "listeners.portMapping.port", "mapped", "sidecar --app-port"),
    Row("VirtualNode", "listeners.portMapping.protocol", "mapped", "sidecar PORTICO_APP_PROTOCOL"),
    Row("VirtualNode", "listeners.healthCheck.path", "mapped", "sidecar PORTICO_APP_HEALTH_PATH"),
    Row(
        "VirtualNode",
        "listeners.healthCheck.intervalMillis",
        "unmapped",
        "-",
        "the app is checked every PORTICO_HEARTBEAT_INTERVAL, one mesh-wide value: readers judge staleness by theirs",
    ),
    Row(
        "VirtualNode", "listeners.healthCheck.protocol", "mapped", "sidecar health check (HTTP GET; a connect for tcp)"
    ),
    Row("VirtualNode", "listeners.healthCheck.port", "ignored", "-", "the sidecar checks the app port"),
    Row("VirtualNode", "listeners.healthCheck.healthyThreshold", "unmapped", "-", "the sidecar acts on each check"),
    Row("VirtualNode", "listeners.healthCheck.unhealthyThreshold", "unmapped", "-", "the sidecar acts on each check"),
    Row("VirtualNode", "listeners.healthCheck.timeoutMillis", "unmapped", "-", "the sidecar's check timeout is fixed"),
    Row(
        "VirtualNode",
        "listeners.connectionPool.http.maxConnections",
        "mapped",
        "DestinationRule subset tcp.maxConnections",
        PER_CALLER,
    ),
    Row(
        "VirtualNode",
        "listeners.connectionPool.http.maxPendingRequests",
        "mapped",
        "DestinationRule subset http.http1MaxPendingRequests",
        PER_CALLER,
    ),
    Row(
        "VirtualNode",
        "listeners.connectionPool.http2.maxRequests",
        "mapped",
        "DestinationRule subset http.http2MaxRequests",
        PER_CALLER,
    ),
    Row(
        "VirtualNode",
        "listeners.connectionPool.grpc.maxRequests",
        "partial",
        "DestinationRule subset http.http2MaxRequests",
        NEEDS_PROTOCOLS,
    ),
    Row(
        "VirtualNode",
        "listeners.connectionPool.tcp.maxConnections",
        "mapped",
        "DestinationRule subset tcp.maxConnections",
        PER_CALLER,
    ),
    Row(
        "VirtualNode",
        "listeners.outlierDetection.maxServerErrors",
        "mapped",
        "DestinationRule subset outlierDetection.consecutive5xxErrors",
    ),
    Row(
        "VirtualNode",
        "listeners.outlierDetection.interval",
        "mapped",
        "DestinationRule subset outlierDetection.interval",
    ),
    Row(
        "VirtualNode",
        "listeners.outlierDetection.baseEjectionDuration",
        "mapped",
        "DestinationRule subset outlierDetection.baseEjectionTime",
    ),
    Row(
        "VirtualNode",
        "listeners.outlierDetection.maxEjectionPercent",
        "mapped",
        "DestinationRule subset outlierDetection.maxEjectionPercent",
    ),
    Row(
        "VirtualNode",
        "listeners.timeout.http.perRequest",
        "mapped",
        "timeout of the VirtualService routes to this node (the smaller wins)",
    ),
    Row("VirtualNode", "listeners.timeout.http.idle", "mapped", "DestinationRule subset http.idleTimeout"),
    Row(
        "VirtualNode",
        "listeners.timeout.http2.perRequest",
        "partial",
        "timeout of the routes to this node",
        NEEDS_PROTOCOLS,
    ),
    Row(
        "VirtualNode",
        "listeners.timeout.http2.idle",
        "partial",
        "DestinationRule subset http.idleTimeout",
        NEEDS_PROTOCOLS,
    ),
    Row(
        "VirtualNode", "listeners.timeout.grpc", "partial", "timeout of the routes / http.idleTimeout", NEEDS_PROTOCOLS
    ),
    Row("VirtualNode", "listeners.timeout.tcp.idle", "mapped", "DestinationRule subset tcp.idleTimeout"),
    Row("VirtualNode", "listeners.tls.mode", "mapped", "sidecar inbound mTLS (always on)"),
    Row("VirtualNode", "listeners.tls.certificate.acm.certificateArn", "mapped", "sidecar PORTICO_ACM_CERT_ARN"),
    Row("VirtualNode", "listeners.tls.certificate.file.certificateChain", "mapped", "sidecar PORTICO_TLS_CERT_FILE"),
    Row("VirtualNode", "listeners.tls.certificate.file.privateKey", "mapped", "sidecar PORTICO_TLS_KEY_FILE"),
    Row(
        "VirtualNode",
        "listeners.tls.certificate.sds",
        "unmapped",
        "-",
        "Portico's sidecar gets certificates from AWS Private CA, ACM or files, not SDS",
    ),
    Row(
        "VirtualNode",
        "listeners.tls.validation.trust.file.certificateChain",
        "mapped",
        "sidecar PORTICO_TLS_BUNDLE_FILE",
    ),
    Row(
        "VirtualNode",
        "listeners.tls.validation.trust.acm.certificateAuthorityArns",
        "mapped",
        "sidecar PORTICO_TRUST_CA_ARNS",
    ),
    Row("VirtualNode", "listeners.tls.validation.trust.sds", "unmapped", "-", "no SDS in Portico"),
    Row(
        "VirtualNode",
        "listeners.tls.validation.subjectAlternativeNames",
        "mapped",
        "AuthorizationPolicy principals of this node's service",
    ),
    Row(
        "VirtualNode",
        "serviceDiscovery.dns.hostname",
        "mapped",
        "registry entry: sidecar --service (first label of the virtual service)",
    ),
    Row("VirtualNode", "serviceDiscovery.dns.responseType", "ignored", "-", "the registry lists every instance"),
    Row(
        "VirtualNode",
        "serviceDiscovery.dns.ipPreference",
        "unmapped",
        "-",
        "the registry keeps the address a sidecar registers",
    ),
    Row(
        "VirtualNode",
        "serviceDiscovery.awsCloudMap.namespaceName",
        "mapped",
        "registry entry (the DynamoDB registry replaces the namespace)",
    ),
    Row("VirtualNode", "serviceDiscovery.awsCloudMap.serviceName", "mapped", "registry entry: sidecar --service"),
    Row(
        "VirtualNode",
        "serviceDiscovery.awsCloudMap.attributes",
        "mapped",
        "sidecar --labels (instance labels in the registry)",
    ),
    Row(
        "VirtualNode",
        "serviceDiscovery.awsCloudMap.ipPreference",
        "unmapped",
        "-",
        "the registry keeps the address a sidecar registers",
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.virtualServiceName",
        "mapped",
        "AuthorizationPolicy of that service allows this node's SPIFFE ID",
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.clientPolicy.tls.enforce",
        "mapped",
        "the sidecar always calls peers over mTLS",
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.clientPolicy.tls.validation.subjectAlternativeNames",
        "mapped",
        "the sidecar checks the server's SPIFFE ID",
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.clientPolicy.tls.validation.trust.acm",
        "mapped",
        "sidecar PORTICO_TRUST_CA_ARNS",
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.clientPolicy.tls.validation.trust.file",
        "mapped",
        "sidecar PORTICO_TLS_BUNDLE_FILE",
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.clientPolicy.tls.validation.trust.sds",
        "unmapped",
        "-",
        "no SDS in Portico",
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.clientPolicy.tls.certificate.file",
        "mapped",
        "sidecar PORTICO_TLS_CERT_FILE / _KEY_FILE",
    ),
    Row(
        "VirtualNode", "backends.virtualService.clientPolicy.tls.certificate.sds", "unmapped", "-", "no SDS in Portico"
    ),
    Row(
        "VirtualNode",
        "backends.virtualService.clientPolicy.tls.ports",
        "unmapped",
        "-",
        "mTLS covers every port in Portico",
    ),
    Row(
        "VirtualNode", "backendDefaults.clientPolicy.tls.enforce", "mapped", "the sidecar always calls peers over mTLS"
    ),
    Row(
        "VirtualNode",
        "backendDefaults.clientPolicy.tls.validation.subjectAlternativeNames",
        "mapped",
        "the sidecar checks the server's SPIFFE ID",
    ),
    Row(
        "VirtualNode",
        "backendDefaults.clientPolicy.tls.validation.trust.acm",
        "mapped",
        "sidecar PORTICO_TRUST_CA_ARNS",
    ),
    Row(
        "VirtualNode",
        "backendDefaults.clientPolicy.tls.validation.trust.file",
        "mapped",
        "sidecar PORTICO_TLS_BUNDLE_FILE",
    ),
    Row("VirtualNode", "backendDefaults.clientPolicy.tls.validation.trust.sds", "unmapped", "-", "no SDS in Portico"),
    Row(
        "VirtualNode",
        "backendDefaults.clientPolicy.tls.certificate.file",
        "mapped",
        "sidecar PORTICO_TLS_CERT_FILE / _KEY_FILE",
    ),
    Row("VirtualNode", "backendDefaults.clientPolicy.tls.certificate.sds", "unmapped", "-", "no SDS in Portico"),
    Row("VirtualNode", "backendDefaults.clientPolicy.tls.ports", "unmapped", "-", "mTLS covers every port in Portico"),
    Row("VirtualNode", "logging", "mapped", "sidecar JSON access log on stdout (always on)"),
    Row("VirtualNode", "backendDefaults.clientPolicy", "mapped", "the sidecar always calls peers over mTLS"),
    Row("VirtualNode", "backends.virtualService.clientPolicy", "mapped", "the sidecar always calls peers over mTLS"),
    Row("VirtualNode", "logging.accessLog.file.path", "mapped", "sidecar JSON access log on stdout"),
    Row(
        "VirtualNode", "logging.accessLog.file.format", "unmapped", "-", "the sidecar's access-log format is fixed JSON"
    ),
    # VirtualGateway
    Row(
        "VirtualGateway", "listeners.portMapping", "ignored", "-", "the edge listens behind API Gateway (template.yaml)"
    ),
    Row("VirtualGateway", "listeners.healthCheck", "ignored", "-", "the edge is a Lambda function; no health check"),
    Row(
        "VirtualGateway",
        "listeners.tls",
        "unmapped",
        "-",
        "TLS at the edge is API Gateway's custom domain with an ACM certificate",
    ),
    Row(
        "VirtualGateway",
        "listeners.connectionPool",
        "unmapped",
        "-",
        "use a RateLimitPolicy and API Gateway throttling at the edge",
    ),
    Row("VirtualGateway", "backendDefaults.clientPolicy.tls.enforce", "mapped", "edge service calls are always mTLS"),
    Row(
        "VirtualGateway",
        "backendDefaults.clientPolicy.tls.validation",
        "mapped",
        "the edge checks the service's SPIFFE ID",
    ),
    Row(
        "VirtualGateway",
        "backendDefaults.clientPolicy.tls.certificate",
        "mapped",
        "the edge's own mesh identity (docs/mtls.md)",
    ),
    Row(
        "VirtualGateway", "backendDefaults.clientPolicy.tls.ports", "unmapped", "-", "mTLS covers every port in Portico"
    ),
    Row("VirtualGateway", "logging", "mapped", "edge access log (CloudWatch Logs)"),
    Row("VirtualGateway", "backendDefaults.clientPolicy", "mapped", "edge service calls are always mTLS"),
    # GatewayRoute
    Row("GatewayRoute", "httpRoute.match.prefix", "mapped", "Route match.pathPrefix", "matched by whole path segments"),
    Row("GatewayRoute", "httpRoute.match.path.exact", "mapped", "Route match.pathRegex (escaped)"),
    Row("GatewayRoute", "httpRoute.match.path.regex", "mapped", "Route match.pathRegex"),
    Row("GatewayRoute", "httpRoute.match.hostname.exact", "mapped", "Route match.host"),
    Row("GatewayRoute", "httpRoute.match.hostname.suffix", "mapped", "Route match.host *.suffix"),
    Row("GatewayRoute", "httpRoute.match.method", "mapped", "Route match.methods"),
    Row("GatewayRoute", "httpRoute.match.headers", "mapped", "Route match.headers"),
    Row("GatewayRoute", "httpRoute.match.headers.invert", "unmapped", "-", "edge header matchers cannot be inverted"),
    Row("GatewayRoute", "httpRoute.match.headers.match.range", "unmapped", "-", "edge header matchers have no range"),
    Row("GatewayRoute", "httpRoute.match.queryParameters", "mapped", "Route match.query"),
    Row("GatewayRoute", "httpRoute.match.port", "ignored", "-", "the edge has one listener"),
    Row(
        "GatewayRoute",
        "httpRoute.action.target.virtualService.virtualServiceName",
        "mapped",
        "Route upstream.service.name",
    ),
    Row("GatewayRoute", "httpRoute.action.target.port", "unmapped", "-", "one port per service in Portico"),
    Row("GatewayRoute", "httpRoute.action.rewrite.prefix", "mapped", "Route transform.request.path (regex)"),
    Row("GatewayRoute", "httpRoute.action.rewrite.path.exact", "mapped", "Route transform.request.path.template"),
    Row(
        "GatewayRoute",
        "httpRoute.action.rewrite.hostname.defaultTargetHostname",
        "mapped",
        "Host is the service name (ENABLED); DISABLED is not kept",
    ),
    Row("GatewayRoute", "http2Route", "partial", "Route (HTTP/1.1 to the service)", NEEDS_PROTOCOLS),
    Row("GatewayRoute", "grpcRoute", "partial", "Route (needs a grpc upstream)", NEEDS_PROTOCOLS),
    Row("GatewayRoute", "priority", "mapped", "Route priority (1001 - App Mesh priority)"),
    # Envelope fields of every kind
    *(
        Row(kind, "@tags", "ignored", "-", "AWS resource tags")
        for kind in (
            "Mesh",
            "VirtualService",
            "VirtualRouter",
            "Route",
            "VirtualNode",
            "VirtualGateway",
            "GatewayRoute",
        )
    ),
)

_INDEX: dict[tuple[str, str], Row] = {(r.kind, r.field): r for r in ROWS}


def lookup(kind: str, field: str) -> Row | None:
    """The row of the longest listed prefix of `field` (dot boundaries); the empty field is the whole spec."""
    probe = field
    while True:
        row = _INDEX.get((kind, probe))
        if row is not None and (probe or not field):
            return row
        if not probe:
            return None
        probe = probe.rpartition(".")[0]


def render_markdown() -> str:
    """The mapping table of docs/appmesh.md."""
    lines = ["| App Mesh resource | field (under `spec`) | status | Portico | why |", "|---|---|---|---|---|"]
    for r in ROWS:
        if r.field.startswith("@"):
            continue
        lines.append(f"| {r.kind} | `{r.field or '(empty)'}` | {r.status} | {r.target} | {r.why} |")
    return "\n".join(lines) + "\n"
