"""The translation on Portico's own App Mesh fixtures: routes, weights, defaults, nodes, policies, gateways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.report import FAILING
from portico.core.appmesh.translate import Translation
from portico.core.appmesh.values import scale_weights
from portico.core.compose.transform import RequestTransformer
from portico.core.http import Request
from tests.unit.appmesh.support import FIXTURES, assert_valid, import_files

COLORAPP = FIXTURES / "colorapp.yaml"
UPDATE = FIXTURES / "colorteller-route-black-80-blue-20.json"


def _doc(result: Translation, kind: str, name: str) -> dict[str, Any]:
    return next(d for d in result.documents if d["kind"] == kind and d["metadata"]["name"] == name)


def test_template_maps_to_valid_documents_with_app_mesh_defaults_written_out() -> None:
    result = import_files([COLORAPP])
    assert_valid(result)
    http = _doc(result, "VirtualService", "colorteller.appmesh-demo.local")["spec"]["http"]
    # each virtual node is found where its service discovery says: black by DNS, blue in Cloud Map
    assert http[0]["route"] == [
        {
            "destination": {"host": "colorteller-black.appmesh-demo.local", "subset": "colorteller-black-vn"},
            "weight": 50,
        },
        {"destination": {"host": "colorteller.appmesh-demo.local", "subset": "colorteller-blue-vn"}, "weight": 50},
    ]
    # App Mesh's 15 s route timeout and its default retry policy, where Istio and Portico would have none
    assert http[0]["timeout"] == "15s"
    assert http[0]["retries"] == {
        "attempts": 2,
        "retryOn": "connect-failure,refused-stream,unavailable,503,non-idempotent",
    }
    defaults = {e.field for e in result.report.entries if e.status == "default"}
    assert "spec.httpRoute.timeout.perRequest (absent)" in defaults


def test_update_file_replaces_the_route_and_keeps_retry_events_and_units() -> None:
    result = import_files([COLORAPP, UPDATE])
    http = _doc(result, "VirtualService", "colorteller.appmesh-demo.local")["spec"]["http"][0]
    assert [r["weight"] for r in http["route"]] == [80, 20]
    assert http["retries"] == {
        "attempts": 3,
        "retryOn": "5xx,reset,refused-stream,connect-failure,non-idempotent",
        "perTryTimeout": "2s",
    }
    # the route asks 30 s, but blue's listener keeps App Mesh's 15 s and black's says 20 s: App Mesh enforces both
    assert http["timeout"] == "15s"
    replaced = [e for e in result.report.entries if e.target.startswith("replaced by")]
    assert replaced and replaced[0].resource == "Route colorteller-route"


def test_node_listener_becomes_subset_policy_and_sidecar_settings() -> None:
    result = import_files([COLORAPP])
    black = _doc(result, "DestinationRule", "colorteller-black")["spec"]
    assert black["host"] == "colorteller-black.appmesh-demo.local"
    assert black["subsets"][0]["labels"] == {"appmesh-node": "colorteller-black-vn"}
    assert (
        black["subsets"][0]["trafficPolicy"]
        == black["trafficPolicy"]
        == {
            "connectionPool": {
                "tcp": {"maxConnections": 10},
                "http": {"http1MaxPendingRequests": 5, "idleTimeout": "2m"},
            },
            "outlierDetection": {
                "consecutive5xxErrors": 5,
                "interval": "10s",
                "baseEjectionTime": "500ms",
                "maxEjectionPercent": 50,
            },
        }
    )
    sidecars = {s.node: s.as_dict() for s in result.sidecars}
    assert sidecars["colorteller-black-vn"]["command"] == (
        "portico sidecar --service colorteller-black --app-port 9080 --labels appmesh-node=colorteller-black-vn"
    )
    assert sidecars["colorteller-black-vn"]["env"] == {"PORTICO_APP_HEALTH_PATH": "/ping"}
    # Cloud Map attributes become registry labels; the gateway node registers under its DNS name's first label
    assert sidecars["colorteller-blue-vn"]["labels"] == {"appmesh-node": "colorteller-blue-vn", "version": "blue"}
    assert sidecars["colorgateway-vn"]["service"] == "colorgateway"
    # what the gateway trusts when it calls peers (its backend client policy) becomes the sidecar's trust bundle
    assert sidecars["colorgateway-vn"]["env"] == {
        "PORTICO_TRUST_CA_ARNS": "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/colorapp"
    }


def test_backends_and_gateway_routes_become_spiffe_principals() -> None:
    policy = _doc(import_files([COLORAPP]), "AuthorizationPolicy", "colorteller-black-vn")
    assert policy["spec"] == {
        "selector": {"matchLabels": {"app": "colorteller-black", "appmesh-node": "colorteller-black-vn"}},
        "action": "ALLOW",
        "rules": [
            {
                "from": [
                    {
                        "source": {
                            "principals": [
                                "spiffe://cluster.local/ns/default/sa/colorgateway",
                                "spiffe://cluster.local/ns/default/sa/edge",
                            ]
                        }
                    }
                ]
            }
        ],
    }


def test_gateway_route_becomes_edge_route_with_app_mesh_prefix_rewrite() -> None:
    route = _doc(import_files([COLORAPP]), "Route", "public-gw-color")
    assert route["spec"] == {
        "match": {"pathPrefix": "/color"},
        "auth": {"none": {}},
        "upstream": {"service": {"name": "colorteller", "timeout": "15s"}},
        "transform": {"request": {"path": {"regex": "^/color/?", "substitution": "/"}}},
    }


def test_describe_output_is_read_and_its_server_state_ignored() -> None:
    result = import_files([COLORAPP, FIXTURES / "describe-route.json"])
    http = _doc(result, "VirtualService", "colorteller.appmesh-demo.local")["spec"]["http"]
    assert http[0]["match"] == [{"uri": {"prefix": "/blue"}, "headers": {"x-color": {"regex": ".*lue"}}}]
    fields = {e.field for e in result.report.entries if e.file.endswith("describe-route.json")}
    assert not any(f.startswith(("metadata", "status")) for f in fields)


def test_symbols_stay_symbolic_and_parameters_resolve_them() -> None:
    result = import_files([COLORAPP])
    symbolic = [e for e in result.report.entries if e.status == "symbolic"]
    assert [e.target for e in symbolic] == ["${ImportValue shared-services-host}"]
    resolved = import_files([COLORAPP], {"ServicesDomain": "prod.internal"})
    assert _doc(resolved, "VirtualService", "colorteller.prod.internal")["spec"]["hosts"] == [
        "colorteller.prod.internal"
    ]


@pytest.mark.parametrize(
    ("extra", "resource", "field", "message"),
    [
        ("broken.yaml", "Resources.Route", "Properties.Spec", "YAML syntax error: line 7"),
        ("route-missing-router.json", "Route lost-route", "virtualRouterName", "VirtualRouter 'no-such-vr'"),
        (
            "route-weight-minus-one.json",
            "Route colorteller-route",
            "spec.httpRoute.action.weightedTargets[1].weight",
            "weight -1",
        ),
    ],
)
def test_malformed_input_names_file_resource_and_field(extra: str, resource: str, field: str, message: str) -> None:
    with pytest.raises(ImportFailure) as caught:
        import_files([COLORAPP, FIXTURES / extra])
    err = caught.value
    assert (err.file, err.resource, err.field) == (str(FIXTURES / extra), resource, field)
    assert message in err.message


def test_nothing_failing_in_the_fixture_but_health_thresholds_and_the_edge_split() -> None:
    failing = {e.field for e in import_files([COLORAPP]).report.entries if e.status in FAILING}
    assert failing == {
        "target",  # the edge calls colorteller directly: the router's weights apply between sidecars
        "spec.listeners.healthCheck.healthyThreshold",
        "spec.listeners.healthCheck.unhealthyThreshold",
        "spec.listeners.healthCheck.timeoutMillis",
        "spec.listeners.healthCheck.intervalMillis",
    }


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=10).filter(lambda w: sum(w) > 0))
def test_scaled_weights_sum_to_100_and_stay_within_a_point(weights: list[int]) -> None:
    scaled = scale_weights(weights)
    assert sum(scaled) == 100
    total = sum(weights)
    assert all(abs(s - w * 100 / total) < 1 for s, w in zip(scaled, weights, strict=True))


def test_a_regex_re2_refuses_names_its_app_mesh_field(tmp_path: Path) -> None:
    route = tmp_path / "regex-route.json"
    route.write_text(
        json.dumps(
            {
                "virtualRouterName": "colorteller-vr",
                "routeName": "colorteller-route",
                "spec": {
                    "httpRoute": {
                        "match": {"path": {"regex": "/(a)\\1"}},
                        "action": {"weightedTargets": [{"virtualNode": "colorteller-blue-vn", "weight": 1}]},
                    }
                },
            }
        )
    )
    with pytest.raises(ImportFailure) as caught:
        import_files([COLORAPP, route])
    assert (caught.value.resource, caught.value.field) == ("Route colorteller-route", "spec.httpRoute.match.path.regex")
    assert "regex" in caught.value.message


@pytest.mark.parametrize(
    ("rewrite", "path", "upstream"),
    [({}, "/color/tell", "/tell"), ({}, "/color", "/"), ({"prefix": {"value": "/red/"}}, "/color/x", "/red/x")],
)
def test_the_edge_applies_app_mesh_gateway_rewrites(
    tmp_path: Path, rewrite: dict[str, Any], path: str, upstream: str
) -> None:
    """The imported edge Route, run through the edge's own RequestTransformer, sends what App Mesh would."""
    gateway_route = tmp_path / "gr.json"
    action = {
        "target": {"virtualService": {"virtualServiceName": "colorteller.appmesh-demo.local"}},
        "rewrite": rewrite,
    }
    body = {
        "virtualGatewayName": "public-gw",
        "gatewayRouteName": "color",
        "spec": {"httpRoute": {"match": {"prefix": "/color/"}, "action": action}},
    }
    gateway_route.write_text(json.dumps(body))
    docs = assert_valid(import_files([COLORAPP, gateway_route]))
    route = next(d for d in docs if d.kind == "Route")
    assert route.spec.transform is not None and route.spec.transform.request is not None
    request = Request(method="GET", path=path)
    RequestTransformer(route.spec.transform.request).apply(request, {})
    assert request.route_path == upstream
