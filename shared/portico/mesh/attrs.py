"""Keys of ctx.attrs on the sidecar's chains: what one filter hands to a later one (the edge has its own twin)."""

from __future__ import annotations

CONN = "conn"  # ConnInfo of the connection the request came on (set by the entry point)
SERVICE = "service"  # destination service name (outbound, RouteFilter)
ROUTE = "route"  # the matched CompiledRoute (outbound, RouteFilter)
PEER = "peer"  # the caller's SPIFFE ID as text (inbound, PeerIdentityFilter)
SPIFFE_ID = "spiffe_id"  # the caller's parsed SpiffeId (inbound, PeerIdentityFilter)
TRACE = "trace"  # the hop's trace context (TelemetryFilter)
