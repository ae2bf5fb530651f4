"""The IAM statements of Portico's roles as the templates define them, resolved for one set of resources.

The edge's role is what SAM makes of EdgeFunction's Policies (translated with aws-sam-translator, as `sam deploy`
would); the sidecar's role is infra/mesh.yaml's SidecarTaskRole. Intrinsics are resolved with the names and
ARNs a test supplies (its tables, its CA), so the statements can be judged against the calls the processes made.
Managed policies are returned apart: they are AWS's, granted to the platform (Lambda's logs, X-Ray, VPC
network interfaces), not to Portico's code.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localdev.deploy.resolve import ResolveError, Resolver
from localdev.deploy.tools import REPO
from localdev.tables import load_template

_PLACEHOLDER = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


@dataclass(frozen=True)
class Role:
    """A role's inline statements (resolved) and the ARNs of its managed policies."""

    statements: list[dict[str, Any]]
    managed: list[str]


@dataclass(frozen=True)
class Resources:
    """The concrete resources a role is resolved for."""

    account: str
    region: str
    tables: Mapping[str, str]  # "config" / "quota" / "registry" -> table name
    ca_arn: str
    partition: str = "aws"

    def table_arn(self, name: str) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"


def translatable(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a SAM template whose local artifact paths are S3 placeholders, as `sam package` leaves them."""
    out = copy.deepcopy(dict(template))
    for logical, resource in out["Resources"].items():
        kind = resource.get("Type", "")
        if kind in _PLACEHOLDER:
            resource["Properties"][_PLACEHOLDER[kind]] = f"s3://portico-placeholder/{logical}.zip"
        if kind == "AWS::Serverless::Application":
            resource["Properties"]["Location"] = f"https://s3.amazonaws.com/portico-placeholder/{logical}.yaml"
    return out


def _resolver(template: Mapping[str, Any], parameters: Mapping[str, str], res: Resources) -> Resolver:
    logical_tables = {"ConfigTable": "config", "QuotaTable": "quota", "RegistryTable": "registry"}
    refs = {logical: res.tables[role] for logical, role in logical_tables.items()}

    def attribute(logical: str, attr: str) -> str:
        if logical in logical_tables and attr == "Arn":
            return res.table_arn(res.tables[logical_tables[logical]])
        if logical == "MeshStack" and attr == "Outputs.CertificateAuthorityArn":
            return res.ca_arn
        raise ResolveError(f"GetAtt {logical}.{attr}: not known to the role check")

    pseudo = {"AWS::Region": res.region, "AWS::AccountId": res.account, "AWS::Partition": res.partition}
    pseudo |= {"AWS::StackName": "portico-check", "AWS::URLSuffix": "amazonaws.com"}
    return Resolver(template, parameters, pseudo, refs, attribute)


def role(template: Mapping[str, Any], logical: str, parameters: Mapping[str, str], res: Resources) -> Role:
    """The resolved inline statements and managed policy ARNs of the role `logical` in `template`."""
    resolver = _resolver(template, parameters, res)
    props = template["Resources"][logical]["Properties"]
    statements: list[dict[str, Any]] = []
    for policy in resolver.resolve(props.get("Policies", [])):
        found = policy["PolicyDocument"]["Statement"]
        statements += found if isinstance(found, list) else [found]
    managed = [str(arn) for arn in resolver.resolve(props.get("ManagedPolicyArns", []))]
    return Role(statements, managed)


def sidecar_role(res: Resources, mesh: Path = REPO / "infra" / "mesh.yaml") -> Role:
    """infra/mesh.yaml's SidecarTaskRole, with an existing CA (the test's) and the test's tables."""
    parameters = {
        "ExistingCertificateAuthorityArn": res.ca_arn,
        "ConfigTableName": res.tables["config"],
        "RegistryTableName": res.tables["registry"],
    }
    return role(load_template(mesh), "SidecarTaskRole", parameters, res)


def edge_role(
    res: Resources, workdir: Path, parameters: Mapping[str, str], template: Path = REPO / "template.yaml"
) -> Role:
    """The role SAM makes for EdgeFunction (translated as `sam deploy` would), resolved for `res`."""
    from localdev.deploy.stack import translate

    params = dict(parameters)
    translated = translate(translatable(load_template(template)), workdir, params)
    return role(translated, "EdgeFunctionRole", params, res)
