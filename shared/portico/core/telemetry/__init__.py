"""Pure telemetry pieces shared by the edge, the sidecar and the CLI: trace context, EMF, Prometheus text, graph."""
