"""What the entry point wires in for observability: sinks for access logs and EMF, the API name, an X-Ray tracer."""

from __future__ import annotations

from dataclasses import dataclass

from portico.core.telemetry.sinks import AccessLogSink, MetricsSink, Tracer


@dataclass(frozen=True, slots=True)
class EdgeTelemetry:
    api: str = "portico"  # the API dimension of every metric (PORTICO_API_NAME)
    namespace: str = "Portico"  # the CloudWatch namespace (PORTICO_METRICS_NAMESPACE)
    access_log: AccessLogSink | None = None  # None: no access log line
    metrics: MetricsSink | None = None  # None: no EMF
    tracer: Tracer | None = None  # None (the default): no X-Ray subsegments, and the X-Ray SDK is never imported
