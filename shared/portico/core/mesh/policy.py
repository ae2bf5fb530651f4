"""DestinationRule -> per-subset cluster policy (balancer, limits, outlier settings) with Istio/Envoy defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from portico.core.config.configset import ConfigSet, service_name
from portico.core.config.istio_networking import DestinationRuleSpec, TrafficPolicy
from portico.core.mesh.circuit import DEFAULT_LIMIT, DEFAULT_MAX_RETRIES, Limits
from portico.core.mesh.outlier import OutlierSettings


@dataclass(frozen=True, slots=True)
class ClusterPolicy:
    """Everything the dispatcher needs for one (service, subset): which endpoints, how to pick, what limits."""

    service: str
    subset: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    lb: str = "LEAST_REQUEST"
    limits: Limits = field(default_factory=Limits)
    outlier: OutlierSettings | None = None  # None: detection off, as in Istio without outlierDetection

    @property
    def name(self) -> str:
        return f"{self.service}|{self.subset or ''}"


def _merge(base: TrafficPolicy | None, override: TrafficPolicy | None) -> TrafficPolicy | None:
    # Istio: a subset's trafficPolicy replaces the top-level one field by field (loadBalancer, connectionPool...).
    if base is None or override is None:
        return override or base
    return base.model_copy(update={k: v for k, v in override.__dict__.items() if v is not None})


def _limits(tp: TrafficPolicy | None) -> Limits:
    pool = tp.connection_pool if tp else None
    tcp = pool.tcp if pool else None
    http = pool.http if pool else None
    return Limits(
        max_connections=(tcp.max_connections if tcp and tcp.max_connections else DEFAULT_LIMIT),
        max_pending=(http.http1_max_pending_requests if http and http.http1_max_pending_requests else DEFAULT_LIMIT),
        max_requests=(http.http2_max_requests if http and http.http2_max_requests else DEFAULT_LIMIT),
        max_retries=(http.max_retries if http and http.max_retries is not None else DEFAULT_MAX_RETRIES),
        max_requests_per_connection=(http.max_requests_per_connection or 0) if http else 0,
        idle_timeout=(http.idle_timeout if http and http.idle_timeout else 3600.0),
        connect_timeout=(tcp.connect_timeout if tcp and tcp.connect_timeout else 10.0),
    )


def _outlier(tp: TrafficPolicy | None) -> OutlierSettings | None:
    od = tp.outlier_detection if tp else None
    if od is None:
        return None
    d = OutlierSettings()
    five = od.consecutive_5xx_errors if od.consecutive_5xx_errors is not None else od.consecutive_errors
    return OutlierSettings(
        consecutive_5xx=five if five is not None else d.consecutive_5xx,
        consecutive_gateway=od.consecutive_gateway_errors or 0,
        interval=od.interval or d.interval,
        base_ejection_time=od.base_ejection_time or d.base_ejection_time,
        max_ejection_percent=od.max_ejection_percent if od.max_ejection_percent is not None else 10,
        min_health_percent=od.min_health_percent or 0,
    )


def _policy(service: str, subset: str | None, labels: Mapping[str, str], tp: TrafficPolicy | None) -> ClusterPolicy:
    lb = tp.load_balancer.simple if tp and tp.load_balancer and tp.load_balancer.simple else "LEAST_REQUEST"
    return ClusterPolicy(service, subset, dict(labels), lb, _limits(tp), _outlier(tp))


@dataclass(frozen=True, slots=True)
class PolicyTable:
    clusters: Mapping[tuple[str, str | None], ClusterPolicy] = field(default_factory=dict)

    @classmethod
    def build(cls, config: ConfigSet) -> PolicyTable:
        out: dict[tuple[str, str | None], ClusterPolicy] = {}
        for name in sorted(config.destination_rules):
            spec: DestinationRuleSpec = config.destination_rules[name].spec
            svc = service_name(spec.host)
            out[(svc, None)] = _policy(svc, None, {}, spec.traffic_policy)
            for s in spec.subsets:
                out[(svc, s.name)] = _policy(svc, s.name, s.labels, _merge(spec.traffic_policy, s.traffic_policy))
        return cls(out)

    def get(self, service: str, subset: str | None) -> ClusterPolicy | None:
        """The policy of a cluster; None when the subset is unknown (a VirtualService referencing a missing one)."""
        found = self.clusters.get((service, subset))
        if found is None and subset is None:
            return ClusterPolicy(service, None)
        return found
