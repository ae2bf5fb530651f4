"""The local deploy reaches CREATE_COMPLETE, its tables have the code's keys, and the built edge serves a request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
    for expected in ("HTTP API", "route $default", "TTL on expiresAt", "Layers", "EdgeToSidecars: authorised egress"):
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


# ---------------------------------------------------------------- the mesh and its wiring (Mesh=enabled)


def _edge_env(deployment: LocalDeployment) -> dict[str, str]:
    name = deployment.outputs["EdgeFunctionName"]
    return dict(client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"])


def _sidecar_container(deployment: LocalDeployment) -> dict[str, Any]:
    ecs = client("ecs")
    cluster = deployment.outputs["MeshClusterName"]
    (service,) = ecs.describe_services(cluster=cluster, services=[deployment.outputs["MeshServiceName"]])["services"]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (sidecar,) = [c for c in task["containerDefinitions"] if c["name"] == "sidecar"]
    return dict(sidecar)


def _nested_outputs(deployment: LocalDeployment, logical: str) -> dict[str, str]:
    cfn = client("cloudformation")
    resources = cfn.list_stack_resources(StackName=deployment.stack_name)["StackResourceSummaries"]
    (physical,) = [r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == logical]
    stack = cfn.describe_stacks(StackName=physical)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_mesh_and_network_are_nested_stacks_of_the_one_deployment(local_deployment: LocalDeployment) -> None:
    network = _nested_outputs(local_deployment, "NetworkStack")
    mesh = _nested_outputs(local_deployment, "MeshStack")
    assert network["VpcId"] == local_deployment.outputs["MeshVpcId"]
    assert mesh["CertificateAuthorityArn"] == local_deployment.outputs["CertificateAuthorityArn"]
    assert mesh["MeshSecurityGroupId"] == local_deployment.outputs["MeshSecurityGroupId"]
    assert client("ecs").describe_clusters(clusters=[mesh["ClusterName"]])["clusters"][0]["status"] == "ACTIVE"


def test_edge_function_joins_the_mesh_subnets_with_its_own_security_group(local_deployment: LocalDeployment) -> None:
    name = local_deployment.outputs["EdgeFunctionName"]
    vpc = client("lambda").get_function_configuration(FunctionName=name)["VpcConfig"]
    private = _nested_outputs(local_deployment, "NetworkStack")["PrivateSubnetIds"].split(",")
    assert sorted(vpc["SubnetIds"]) == sorted(private)
    assert vpc["SecurityGroupIds"] == [local_deployment.outputs["EdgeSecurityGroupId"]]
    subnets = client("ec2").describe_subnets(SubnetIds=private)["Subnets"]
    assert {s["VpcId"] for s in subnets} == {local_deployment.outputs["MeshVpcId"]}


def test_sidecars_admit_the_edge_on_their_inbound_port_and_nothing_else(local_deployment: LocalDeployment) -> None:
    ec2 = client("ec2")
    edge_sg, mesh_sg = local_deployment.outputs["EdgeSecurityGroupId"], local_deployment.outputs["MeshSecurityGroupId"]
    (mesh,) = ec2.describe_security_groups(GroupIds=[mesh_sg])["SecurityGroups"]
    sources = {
        (p["FromPort"], p["ToPort"], pair["GroupId"]) for p in mesh["IpPermissions"] for pair in p["UserIdGroupPairs"]
    }
    assert sources == {(15443, 15443, edge_sg), (15443, 15443, mesh_sg)}
    assert all(not p.get("IpRanges") for p in mesh["IpPermissions"]), mesh["IpPermissions"]
    (edge,) = ec2.describe_security_groups(GroupIds=[edge_sg])["SecurityGroups"]
    to_mesh = [p for p in edge["IpPermissionsEgress"] if any(g["GroupId"] == mesh_sg for g in p["UserIdGroupPairs"])]
    assert [(p["FromPort"], p["ToPort"]) for p in to_mesh] == [(15443, 15443)]


# Every PORTICO_* variable the deployed edge and sidecar get, followed to the code that reads it: the reader is
# given the deployed environment and must yield the deployed value. A variable without a reader here fails.
def _edge_readers() -> dict[str, Any]:
    from portico.adapters.aws import table_names
    from portico.edge.settings import EdgeSettings
    from portico.mesh.identity import resolve_identity

    def identity(env: dict[str, str]) -> Any:
        return resolve_identity(env["PORTICO_EDGE_IDENTITY"], env)

    return {
        "PORTICO_CONFIG_TABLE": lambda env: EdgeSettings.from_env(env).config_table,
        "PORTICO_QUOTA_TABLE": lambda env: table_names(env)["quota"],
        "PORTICO_REGISTRY_TABLE": lambda env: table_names(env)["registry"],
        "PORTICO_API_NAME": lambda env: EdgeSettings.from_env(env).api_name,
        "PORTICO_METRICS_NAMESPACE": lambda env: EdgeSettings.from_env(env).metrics_namespace,
        "PORTICO_PCA_ARN": lambda env: identity(env).pca_arn,
        "PORTICO_TRUST_DOMAIN": lambda env: identity(env).trust_domain,
        "PORTICO_NAMESPACE": lambda env: identity(env).namespace,
        "PORTICO_EDGE_IDENTITY": lambda env: identity(env).service,
    }


def _sidecar_readers() -> dict[str, Any]:
    from portico.adapters.aws import table_names
    from portico.mesh.identity import resolve_identity

    return {
        "PORTICO_CONFIG_TABLE": lambda env: table_names(env)["config"],
        "PORTICO_REGISTRY_TABLE": lambda env: table_names(env)["registry"],
        "PORTICO_PCA_ARN": lambda env: resolve_identity("orders", env).pca_arn,
        "PORTICO_TRUST_DOMAIN": lambda env: resolve_identity("orders", env).trust_domain,
        "PORTICO_NAMESPACE": lambda env: resolve_identity("orders", env).namespace,
    }


def test_every_portico_variable_of_the_edge_reaches_the_code_that_reads_it(local_deployment: LocalDeployment) -> None:
    env = _edge_env(local_deployment)
    readers = _edge_readers()
    assert {k for k in env if k.startswith("PORTICO_")} == set(readers)
    for name, read in readers.items():
        assert read(env) == env[name], name
    outputs = local_deployment.outputs
    assert env["PORTICO_PCA_ARN"] == outputs["CertificateAuthorityArn"]
    assert env["PORTICO_REGISTRY_TABLE"] == outputs["RegistryTableName"]
    spiffe = f"spiffe://{env['PORTICO_TRUST_DOMAIN']}/ns/{env['PORTICO_NAMESPACE']}/sa/{env['PORTICO_EDGE_IDENTITY']}"
    assert spiffe == outputs["EdgeSpiffeId"]


def test_every_portico_variable_of_the_sidecar_reaches_the_code_that_reads_it(
    local_deployment: LocalDeployment,
) -> None:
    sidecar = _sidecar_container(local_deployment)
    env = {e["name"]: e["value"] for e in sidecar["environment"]}
    readers = _sidecar_readers()
    assert {k for k in env if k.startswith("PORTICO_")} == set(readers)
    for name, read in readers.items():
        assert read(env) == env[name], name
    edge = _edge_env(local_deployment)
    # one CA, one registry, one trust domain for the edge and the sidecars: typed once, passed through
    for shared in ("PORTICO_PCA_ARN", "PORTICO_REGISTRY_TABLE", "PORTICO_CONFIG_TABLE", "PORTICO_TRUST_DOMAIN"):
        assert env[shared] == edge[shared], shared
    assert sidecar["image"] == local_deployment.parameters["SidecarImage"]
    ca = client("acm-pca").describe_certificate_authority(CertificateAuthorityArn=env["PORTICO_PCA_ARN"])
    assert ca["CertificateAuthority"]["Status"] == "ACTIVE"
    for table in (env["PORTICO_CONFIG_TABLE"], env["PORTICO_REGISTRY_TABLE"]):
        assert client("dynamodb").describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"


def test_the_deployed_edge_issues_its_own_mesh_certificate_from_the_stacks_ca(
    local_deployment: LocalDeployment, caplog: pytest.LogCaptureFixture
) -> None:
    """The edge's lazy mesh client, given the deployed environment, gets a certificate for the stack's SPIFFE ID."""
    import asyncio
    import logging

    from portico.edge.mesh_client import LazyMeshClient

    env = {**os.environ, **_edge_env(local_deployment)}

    async def first_call() -> None:
        mesh = LazyMeshClient(env)
        await mesh.get()
        if mesh._renewal is not None:
            mesh._renewal.cancel()

    with caplog.at_level(logging.INFO, logger="portico.edge"):
        asyncio.run(first_call())
    ready = [r.getMessage() for r in caplog.records if r.getMessage().startswith("edge mesh identity ")]
    assert ready == [f"edge mesh identity {local_deployment.outputs['EdgeSpiffeId']} ready"], caplog.text
