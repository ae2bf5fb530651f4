"""The local deploy reaches CREATE_COMPLETE, its tables have the code's keys, and the built edge serves a request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from localdev.deploy import contract
from localdev.deploy.invoke import invoke_built
from localdev.deploy.stack import LocalDeployment
from portico.adapters.aws import client

_TABLE_OUTPUTS = {
    "ConfigTable": "ConfigTableName",
    "QuotaTable": "QuotaTableName",
    "RegistryTable": "RegistryTableName",
}


def _http_api_event(path: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "user-agent": "deploy-test"},
        "requestContext": {
            "requestId": "deploy-test-1",
            "stage": "$default",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        },
        "isBase64Encoded": False,
    }


def test_stack_is_complete_and_nothing_was_left_unfilled(local_deployment: LocalDeployment) -> None:
    assert local_deployment.status == "CREATE_COMPLETE"
    assert local_deployment.unfilled == []
    # What the local CloudFormation skipped was created by API (see localdev/deploy/gaps.py).
    filled = "\n".join(local_deployment.filled)
    for expected in ("HTTP API", "route $default", "TTL on expiresAt", "Layers"):
        assert expected in filled, filled


def test_deployed_tables_have_the_keys_and_ttl_the_code_uses(local_deployment: LocalDeployment) -> None:
    ddb = client("dynamodb")
    for logical, output in _TABLE_OUTPUTS.items():
        name = local_deployment.outputs[output]
        table = ddb.describe_table(TableName=name)["Table"]
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert contract.deployed_errors(logical, table, ttl) == []
        assert table["KeySchema"][0]["AttributeName"] == contract.KEYS[logical][0][0]


def test_front_door_default_route_targets_the_edge_function(local_deployment: LocalDeployment) -> None:
    api_id = local_deployment.outputs["ApiUrl"].split("//", 1)[1].split(".", 1)[0]
    gateway = client("apigatewayv2")
    routes = {r["RouteKey"]: r for r in gateway.get_routes(ApiId=api_id)["Items"]}
    integration_id = routes["$default"]["Target"].removeprefix("integrations/")
    integration = gateway.get_integration(ApiId=api_id, IntegrationId=integration_id)
    assert integration["IntegrationUri"].endswith(":function:" + local_deployment.outputs["EdgeFunctionName"])
    stage = gateway.get_stage(ApiId=api_id, StageName="$default")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 500


def test_edge_function_has_its_layer_and_table_environment(local_deployment: LocalDeployment) -> None:
    config = client("lambda").get_function_configuration(FunctionName=local_deployment.outputs["EdgeFunctionName"])
    assert [layer["Arn"] for layer in config["Layers"]] == [local_deployment.outputs["PorticoLayerArn"]]
    env = config["Environment"]["Variables"]
    assert env["PORTICO_CONFIG_TABLE"] == local_deployment.outputs["ConfigTableName"]
    assert env["PORTICO_QUOTA_TABLE"] == local_deployment.outputs["QuotaTableName"]


def test_built_edge_artifact_serves_a_request_against_the_deployed_tables(
    local_deployment: LocalDeployment,
) -> None:
    # The function's own deployed environment: the table names of this stack, Powertools settings.
    name = local_deployment.outputs["EdgeFunctionName"]
    env = client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    response = invoke_built(local_deployment.build_dir, "EdgeFunction", _http_api_event("/deploy-check"), env)
    assert isinstance(response["statusCode"], int) and response["statusCode"] != 500, response
    headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
    if response["statusCode"] >= 400:
        assert headers["content-type"] == "application/problem+json", response
        body = json.loads(response["body"])
        assert body["status"] == response["statusCode"]
        # A store that could not be reached would say so; the deployed tables answered.
        assert "unavailable" not in body.get("detail", ""), body


_ROUTE = """\
apiVersion: portico/v1
kind: Route
metadata: {name: deploy-check}
spec:
  match: {methods: [GET], path: /deploy-check/routed}
  auth: {none: {}}
  upstream: {mock: {status: 200, json: {deployed: true}}}
"""


def test_built_edge_routes_by_config_applied_to_the_deployed_table(
    local_deployment: LocalDeployment, tmp_path: Path
) -> None:
    """`portico apply` writes a route into the stack's config table; the built edge then serves it."""
    name = local_deployment.outputs["EdgeFunctionName"]
    env = client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    route = tmp_path / "route.yaml"
    route.write_text(_ROUTE)
    applied = subprocess.run(
        [sys.executable, "-c", "from portico.cli.main import run; run()", "apply", "-f", str(route)],
        env={**os.environ, "PORTICO_CONFIG_TABLE": env["PORTICO_CONFIG_TABLE"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    response = invoke_built(local_deployment.build_dir, "EdgeFunction", _http_api_event("/deploy-check/routed"), env)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"deployed": True}


def test_built_authorizer_denies_a_request_without_credentials(local_deployment: LocalDeployment) -> None:
    functions = client("lambda").list_functions()["Functions"]
    (authorizer,) = [f for f in functions if f["FunctionName"].startswith(f"{local_deployment.stack_name}-Authorizer")]
    env = authorizer["Environment"]["Variables"]
    assert json.loads(env["PORTICO_AUTHORIZER_AUTH"]) == {"apiKey": {}}
    response = invoke_built(local_deployment.build_dir, "AuthorizerFunction", _http_api_event("/x"), env)
    assert response["isAuthorized"] is False, response
