"""The ctx.attrs keys edge filters hand to later ones (documented in docs/edge.md)."""

ROUTE = "route"  # portico.core.config.documents.Route: the matched Route document
ROUTE_NAME = "route_name"  # str: metadata.name of the matched route
PATH_PARAMS = "path_params"  # dict[str, str]: template parameters, as they appear in the normalised path
TRACE = "trace"  # portico.edge.filters.request_id.TraceContext: trace id, our span id, flags, tracestate
IDENTITY = "identity"  # set by the auth filters (JWT / API key); read by rate limit and forwarding
