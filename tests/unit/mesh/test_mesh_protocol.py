"""Protocol selection per port: Istio naming and appProtocol, App Mesh portMapping, the sidecar's flags."""

from __future__ import annotations

import pytest

from portico.core.mesh.protocol import (
    Protocol,
    UnsupportedProtocol,
    from_appmesh,
    from_istio,
    parse_port_list,
    parse_protocol,
)
from portico.mesh.settings import resolve


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("http", Protocol.HTTP),
        ("http-web", Protocol.HTTP),
        ("HTTP2-api", Protocol.HTTP2),
        ("grpc", Protocol.GRPC),
        ("grpc-orders", Protocol.GRPC),
        ("grpc-web", Protocol.GRPC_WEB),
        ("grpc-web-ui", Protocol.GRPC_WEB),
        ("tcp-echo", Protocol.TCP),
        ("tls", Protocol.TLS),
        ("https-admin", Protocol.TLS),
        ("mongo", Protocol.TCP),
        ("redis-cache", Protocol.TCP),
        ("web", Protocol.AUTO),
        ("httpfoo", Protocol.AUTO),
        ("", Protocol.AUTO),
    ],
)
def test_istio_port_names_are_protocol_then_optional_suffix(name: str, expected: Protocol) -> None:
    assert from_istio(8080, name=name).protocol is expected


def test_app_protocol_wins_over_the_name_and_knows_kubernetes_values() -> None:
    assert from_istio(80, name="http-web", app_protocol="tcp").protocol is Protocol.TCP
    assert from_istio(80, name="http-web", app_protocol="kubernetes.io/h2c").protocol is Protocol.HTTP2
    assert from_istio(80, name="tcp", app_protocol="something").protocol is Protocol.AUTO  # as Istio: no fallback
    assert from_istio(80, app_protocol="grpc").source == "appProtocol"


def test_unnamed_ports_are_auto_except_server_first_well_known_ports() -> None:
    assert from_istio(8080).protocol is Protocol.AUTO
    assert from_istio(3306).protocol is Protocol.TCP
    assert from_istio(27017, name="db").protocol is Protocol.TCP
    assert from_istio(3306, name="http").protocol is Protocol.HTTP


def test_udp_is_refused_not_guessed() -> None:
    with pytest.raises(UnsupportedProtocol, match="UDP"):
        from_istio(53, name="udp-dns")


def test_app_mesh_port_mapping_is_exactly_four_protocols() -> None:
    assert [from_appmesh(1, p).protocol for p in ("http", "http2", "grpc", "tcp")] == [
        Protocol.HTTP,
        Protocol.HTTP2,
        Protocol.GRPC,
        Protocol.TCP,
    ]
    with pytest.raises(UnsupportedProtocol, match="portMapping"):
        from_appmesh(1, "HTTP")


def test_flags_are_strict() -> None:
    assert parse_protocol("GRPC") is Protocol.GRPC
    assert parse_protocol("auto") is Protocol.AUTO
    with pytest.raises(UnsupportedProtocol, match="'web' is not a protocol"):
        parse_protocol("web")
    ports = parse_port_list("9000=tcp, 9443=tls-db,50051=grpc")
    assert [(p.port, p.protocol) for p in ports] == [(9000, Protocol.TCP), (9443, Protocol.TLS), (50051, Protocol.GRPC)]
    for bad, reason in [
        ("9000", "PORT=PROTOCOL"),
        ("x=tcp", "not a port"),
        ("70000=tcp", "outside"),
        ("1=tcp,1=tls", "twice"),
        ("1=udp", "UDP"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_port_list(bad)


def test_sidecar_settings_carry_app_protocols() -> None:
    s = resolve(service="a", app_port=8080, env={"PORTICO_APP_PROTOCOL": "grpc", "PORTICO_APP_PORTS": "9000=tcp"})
    assert s.app_protocol is Protocol.GRPC
    assert {p: v.protocol for p, v in s.app_port_protocols.items()} == {8080: Protocol.GRPC, 9000: Protocol.TCP}
    assert resolve(service="a", app_port=8080, env={}).app_protocol is Protocol.AUTO
    with pytest.raises(ValueError, match="--app-protocol"):
        resolve(service="a", app_port=8080, app_protocol="web", env={})
    with pytest.raises(ValueError, match="names the app port"):
        resolve(service="a", app_port=8080, app_ports="8080=tcp", env={})
