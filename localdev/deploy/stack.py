"""Deploys template.yaml into the local AWS endpoint: build, package, translate, create, fill gaps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localdev.deploy import contract
from localdev.deploy.build import package, sam_build
from localdev.deploy.gaps import GapFiller
from localdev.deploy.resolve import ResolveError, Resolver
from localdev.deploy.tools import REPO, host_architecture, tool
from localdev.tables import load_template
from portico.adapters.aws import client

_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployError(RuntimeError):
    """The local deploy did not reach a complete, correct stack; the message says where it stopped."""


@dataclass
class LocalDeployment:
    """What a local deploy produced: stack status, resolved outputs and the gap report."""

    stack_name: str
    status: str
    outputs: dict[str, str]
    build_dir: Path
    parameters: dict[str, str]
    filled: list[str] = field(default_factory=list)
    unfilled: list[str] = field(default_factory=list)


def translate(packaged: dict[str, Any], workdir: Path, parameters: dict[str, str]) -> dict[str, Any]:
    """SAM -> CloudFormation with aws-sam-translator, run in the tools venv (it pins its own pydantic)."""
    source, target = workdir / "packaged.json", workdir / "cloudformation.json"
    source.write_text(json.dumps(packaged), encoding="utf-8")
    script = Path(__file__).with_name("translate.py")
    args = [f"{k}={v}" for k, v in parameters.items()]
    done = subprocess.run(
        [str(tool("python")), str(script), str(source), str(target), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")},
    )
    if done.returncode != 0:
        raise DeployError(f"aws-sam-translator rejected the template:\n{done.stderr.strip()}")
    return dict(json.loads(target.read_text(encoding="utf-8")))


def _references(value: Any, names: set[str]) -> set[str]:
    """Logical ids of `names` that `value` refers to (Ref, GetAtt, ${...} in Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and arg in names:
                found.add(arg)
            elif key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                found |= {target} & names
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!][^}]*)\}", text)} & names
            found |= _references(arg, names)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item, names)
    return found


def dependency_order(template: dict[str, Any]) -> dict[str, Any]:
    """The template with its resources in an order where each follows everything it refers to.

    moto's CloudFormation creates resources in template order and resolves a GetAtt only on a resource it has
    already created (a Ref it creates on demand), so GetAtt NetworkStack.Outputs.VpcId before NetworkStack fails
    there; AWS orders by the references itself. Raises DeployError on a cycle, as CloudFormation would.
    """
    resources: dict[str, Any] = template["Resources"]
    names = set(resources)
    needs = {
        logical: _references(body, names - {logical})
        | ({body["DependsOn"]} if isinstance(body.get("DependsOn"), str) else set(body.get("DependsOn", [])))
        for logical, body in resources.items()
    }
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(resources):
        ready = sorted(logical for logical in resources if logical not in placed and needs[logical] <= placed)
        if not ready:
            raise DeployError(f"circular references among {sorted(names - placed)}")
        ordered += ready
        placed |= set(ready)
    return {**template, "Resources": {logical: resources[logical] for logical in ordered}}


_DROP = object()


def fold_conditions(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The template with every Fn::If replaced by its chosen branch and AWS::NoValue removed, as AWS would.

    moto's CloudFormation keeps an AWS::NoValue list item as None (an IAM role's `Policies: [!If [Cond, ...,
    !Ref AWS::NoValue]]` then fails with a TypeError); conditions here depend on parameters only, so they are
    decided before the template is sent.
    """
    resolver = Resolver(template, parameters, {}, {}, lambda logical, attr: "")

    def fold(value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (fold(item) for item in value) if v is not _DROP]
        if not isinstance(value, dict):
            return value
        if list(value) == ["Fn::If"]:
            name, when_true, when_false = value["Fn::If"]
            return fold(when_true if resolver.condition(name) else when_false)
        if value == {"Ref": "AWS::NoValue"}:
            return _DROP
        folded = {k: fold(v) for k, v in value.items()}
        return {k: v for k, v in folded.items() if v is not _DROP}

    resources = {logical: fold(body) for logical, body in template["Resources"].items()}
    return {**template, "Resources": resources}


def _create_or_update(cfn: Any, name: str, body: str, parameters: dict[str, str]) -> None:
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    existing = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == name]
    if any(s["StackStatus"] != "DELETE_COMPLETE" for s in existing):
        cfn.update_stack(StackName=name, TemplateBody=body, Parameters=params, Capabilities=_CAPABILITIES)
    else:
        cfn.create_stack(StackName=name, TemplateBody=body, Parameters=params, Capabilities=_CAPABILITIES)


def _wait(cfn: Any, name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {stack['StackStatus']} after {timeout:.0f}s")
        time.sleep(0.5)


def _attribute_lookup(refs: dict[str, str], types: dict[str, str]) -> Any:
    def lookup(logical: str, attr: str) -> str:
        kind, physical = types.get(logical), refs.get(logical)
        if physical is None or (attr != "Arn" and not attr.startswith("Outputs.")):
            raise ResolveError(f"GetAtt {logical}.{attr}: not available locally")
        if kind == "AWS::Lambda::Function":
            return str(client("lambda").get_function(FunctionName=physical)["Configuration"]["FunctionArn"])
        if kind == "AWS::DynamoDB::Table":
            return str(client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"])
        if kind == "AWS::IAM::Role":
            return str(client("iam").get_role(RoleName=physical)["Role"]["Arn"])
        if kind == "AWS::CloudFormation::Stack" and physical is not None and attr.startswith("Outputs."):
            stack = client("cloudformation").describe_stacks(StackName=physical)["Stacks"][0]
            for output in stack.get("Outputs", []):
                if output["OutputKey"] == attr.removeprefix("Outputs."):
                    return str(output["OutputValue"])
            raise ResolveError(f"GetAtt {logical}.{attr}: the nested stack has no such output")
        if kind == "AWS::Logs::LogGroup":
            for group in client("logs").describe_log_groups(logGroupNamePrefix=physical)["logGroups"]:
                if group["logGroupName"] == physical:
                    return str(group["arn"])
        raise ResolveError(f"GetAtt {logical}.{attr}: no lookup for {kind}")

    return lookup


def _verify_tables(refs: dict[str, str]) -> None:
    ddb = client("dynamodb")
    errors: list[str] = []
    for logical in contract.KEYS:
        if logical not in refs:
            errors.append(f"{logical}: not deployed")
            continue
        table = ddb.describe_table(TableName=refs[logical])["Table"]
        ttl = ddb.describe_time_to_live(TableName=refs[logical])["TimeToLiveDescription"]
        errors += contract.deployed_errors(logical, table, ttl)
    if errors:
        raise DeployError("deployed tables differ from what the code uses:\n  " + "\n  ".join(errors))


def _fill_gaps(
    cfn: Any, stack: dict[str, Any], template: dict[str, Any], params: dict[str, str]
) -> tuple[Resolver, GapFiller, dict[str, str]]:
    """Create what the local CloudFormation skipped in one (parent or nested) stack; its resolver, filler, refs."""
    name = stack["StackName"]
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    refs = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries if s.get("PhysicalResourceId")}
    types = {k: v["Type"] for k, v in template["Resources"].items()}
    pseudo = {
        "AWS::StackName": name,
        "AWS::Region": cfn.meta.region_name,
        "AWS::AccountId": client("sts").get_caller_identity()["Account"],
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackId": stack["StackId"],
    }
    resolver = Resolver(template, params, pseudo, refs, _attribute_lookup(refs, types))
    filler = GapFiller(template, resolver, client, name)
    filler.fill()
    return resolver, filler, refs


def _nested(cfn: Any, physical: str) -> dict[str, Any]:
    """A nested stack as created: its description, its template and the parameters it was given."""
    stack = cfn.describe_stacks(StackName=physical)["Stacks"][0]
    body = cfn.get_template(StackName=physical)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else dict(body)
    parameters = {p["ParameterKey"]: str(p["ParameterValue"]) for p in stack.get("Parameters", [])}
    return {"stack": stack, "template": template, "parameters": parameters}


def local_mesh_parameters(overrides: dict[str, str]) -> dict[str, str]:
    """What a local deploy of the mesh needs that a user would type: the local endpoint's CA (its CloudFormation
    has no AWS::ACMPCA model, so the stack uses an existing CA, as ExistingCertificateAuthorityArn allows), the
    sidecar image `make sidecar-image` builds, and a stand-in app image (no task runs on the local ECS)."""
    if overrides.get("Mesh", "enabled") != "enabled":
        return {}
    from localdev.deploy.image import image_tag
    from localdev.dev.ca import ensure_root_ca

    return {
        "ExistingCertificateAuthorityArn": ensure_root_ca(client("acm-pca")),
        "SidecarImage": image_tag(),
        "AppImage": "localhost/portico-demo-app:local",
        "DesiredCount": "1",
    }


def deploy_local(
    stack_name: str = "portico-local",
    *,
    template: Path = REPO / "template.yaml",
    workdir: Path = REPO / ".portico" / "deploy",
    parameters: dict[str, str] | None = None,
    bucket: str = "portico-local-artifacts",
    prebuilt: Path | None = None,
) -> LocalDeployment:
    """Build for this host's architecture, package, translate and deploy; then fill what was skipped."""
    params = {"Architecture": host_architecture(), **local_mesh_parameters(parameters or {}), **(parameters or {})}
    # moto splits a list-typed parameter only when it is passed, not its default: pass every default explicitly.
    for name, spec in load_template(template).get("Parameters", {}).items():
        kind = str(spec.get("Type", ""))
        if (kind == "CommaDelimitedList" or kind.startswith("List<")) and name not in params:
            params[name] = str(spec.get("Default", ""))
    workdir.mkdir(parents=True, exist_ok=True)
    # A build depends on the architecture only: a second deploy (other parameters) may reuse one.
    built = prebuilt / "template.yaml" if prebuilt else sam_build(template, workdir / "build", params)
    translated = translate(package(built, client("s3"), bucket), workdir, params)
    cloudformation = dependency_order(fold_conditions(translated, params))
    cfn = client("cloudformation")
    _create_or_update(cfn, stack_name, json.dumps(cloudformation), params)
    stack = _wait(cfn, stack_name)
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        reason = stack.get("StackStatusReason")
        raise DeployError(f"stack {stack_name} ended {stack['StackStatus']}: {reason}")
    resolver, filler, refs = _fill_gaps(cfn, stack, cloudformation, params)
    for logical, kind in ((k, v["Type"]) for k, v in cloudformation["Resources"].items()):
        if kind == "AWS::CloudFormation::Stack" and logical in refs:
            nested = _nested(cfn, refs[logical])
            _, inner, _ = _fill_gaps(cfn, nested["stack"], nested["template"], nested["parameters"])
            filler.filled += [f"{logical}/{line}" for line in inner.filled]
            filler.unfilled += [f"{logical}/{line}" for line in inner.unfilled]
    _verify_tables(refs)
    outputs = {
        key: str(resolver.resolve(out["Value"]))
        for key, out in cloudformation.get("Outputs", {}).items()
        if "Condition" not in out or resolver.condition(out["Condition"])
    }
    return LocalDeployment(
        stack_name, stack["StackStatus"], outputs, built.parent, params, filler.filled, filler.unfilled
    )
