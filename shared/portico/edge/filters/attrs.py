"""The ctx.attrs keys edge filters hand to later ones (documented in docs/edge.md and docs/observability.md)."""

ROUTE = "route"  # portico.core.config.documents.Route: the matched Route document
ROUTE_NAME = "route_name"  # str: metadata.name of the matched route
PATH_PARAMS = "path_params"  # dict[str, str]: template parameters, as they appear in the normalised path
TRACE = "trace"  # portico.core.telemetry.traceparent.TraceContext: trace id, our span id, flags, tracestate
IDENTITY = "identity"  # set by the auth filters (JWT / API key); read by rate limit and forwarding
CLIENT_IP = "client_ip"  # IPv4Address | IPv6Address | None: the address IP rules judge (trusted proxies honoured)
SCREEN_KEY = "screen_key"  # tuple: what the refused-client screen keyed this request by (portico.edge.filters.ip)
CLIENT_CERT = "client_cert"  # portico.core.auth.clientcert.CertIdentity: the verified client certificate's identity

# Observability: set by the filter that knows, read by the access-log/metrics filter (portico.edge.filters.access_log)
UPSTREAM_LATENCY_MS = "upstream_latency_ms"  # float: time spent in the upstream call (all tries); set by the dispatcher
RATE_LIMIT = "rate_limit"  # str: the rate-limit decision, one of RATE_LIMIT_DECISIONS; set by the rate-limit filter
CACHE = "cache"  # str: "hit" | "miss"; set by the cache filter
AUTH_FAILED = "auth_failed"  # bool: True when authentication or authorisation refused the request; set by auth

# "allowed": counted and admitted; "limited": answered 429; "failed-open"/"failed-closed": the store did not answer
RATE_LIMIT_DECISIONS = frozenset({"allowed", "limited", "failed-open", "failed-closed"})
