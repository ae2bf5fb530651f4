"""Gauges read at scrape time: certificate expiry and rotations, requests in flight per listener, ejected hosts."""

from __future__ import annotations

from collections.abc import Mapping

from portico.adapters.tls.identity import MeshIdentity
from portico.core.telemetry.prometheus import Registry
from portico.mesh.listener import Listener
from portico.mesh.state import MeshState


def register_gauges(
    stats: Registry, listeners: Mapping[str, Listener], state: MeshState, identity: MeshIdentity | None
) -> None:
    if identity is not None:
        stats.gauge("portico_cert_expiry_seconds", lambda: [((), identity.cert.not_after - state.clock.now())])
        stats.gauge("portico_cert_rotations", lambda: [((), float(identity.rotations))], "Certificate renewals so far.")
    stats.gauge(
        "portico_in_flight_requests",
        lambda: [((("listener", n),), float(lst.tracker.in_flight)) for n, lst in sorted(listeners.items())],
        "Requests being served, per listener.",
    )
    stats.gauge(
        "portico_ejected_hosts",
        lambda: [
            (
                (("cluster", c.policy.name),),
                float(len(c.state.outlier.ejected(state.clock.monotonic())) if c.state.outlier else 0),
            )
            for c in state.clusters.values()
        ],
        "Hosts currently ejected by outlier detection, per cluster.",
    )
