"""Every cross-stack reference in template.yaml resolves: outputs exist, parameters are declared and complete.

template.yaml nests infra/network.yaml and infra/mesh.yaml (AWS::Serverless::Application with a local Location);
a renamed output or parameter would only fail on AWS, at deploy time, half-way through a change set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localdev.tables import load_template

REPO = Path(__file__).resolve().parents[2]
PARENT = load_template(REPO / "template.yaml")


def _nested() -> dict[str, dict[str, Any]]:
    return {
        logical: body for logical, body in PARENT["Resources"].items() if body["Type"] == "AWS::Serverless::Application"
    }


def _get_atts(node: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::GetAtt":
                logical, attr = value if isinstance(value, list) else str(value).split(".", 1)
                found.append((logical, attr))
            else:
                found += _get_atts(value)
    elif isinstance(node, list):
        for item in node:
            found += _get_atts(item)
    return found


def test_the_parent_nests_the_mesh_and_the_network_from_the_repository() -> None:
    locations = {logical: body["Properties"]["Location"] for logical, body in _nested().items()}
    assert locations == {"NetworkStack": "infra/network.yaml", "MeshStack": "infra/mesh.yaml"}
    assert PARENT["Resources"]["MeshStack"]["Condition"] == "MeshOn"
    assert PARENT["Resources"]["NetworkStack"]["Condition"] == "CreateNetwork"


def test_every_nested_output_the_parent_reads_exists() -> None:
    nested = {logical: load_template(REPO / body["Properties"]["Location"]) for logical, body in _nested().items()}
    reads = [(logical, attr) for logical, attr in _get_atts(PARENT) if logical in nested]
    assert {logical for logical, _ in reads} == set(nested), "a nested stack's outputs are never read"
    for logical, attr in reads:
        assert attr.startswith("Outputs."), f"GetAtt {logical}.{attr}: nested stacks only have Outputs.*"
        name = attr.removeprefix("Outputs.")
        assert name in nested[logical].get("Outputs", {}), f"{logical} has no output {name}"


@pytest.mark.parametrize("logical", sorted(_nested()))
def test_parameters_passed_to_a_nested_stack_are_declared_and_complete(logical: str) -> None:
    body = _nested()[logical]
    declared = load_template(REPO / body["Properties"]["Location"]).get("Parameters", {})
    passed = set(body["Properties"].get("Parameters", {}))
    assert passed <= set(declared), f"{logical} is passed undeclared {sorted(passed - set(declared))}"
    required = {name for name, spec in declared.items() if "Default" not in spec}
    assert required <= passed, f"{logical} needs {sorted(required - passed)}, which the parent does not pass"


def test_a_nested_output_reaches_the_edge_only_when_the_mesh_is_on() -> None:
    """Outputs of a conditional stack may be read only under the same condition (else the deploy fails)."""
    edge = PARENT["Resources"]["EdgeFunction"]["Properties"]
    pca = edge["Environment"]["Variables"]["PORTICO_PCA_ARN"]
    assert pca["Fn::If"][0] == "MeshOn" and pca["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert edge["VpcConfig"]["Fn::If"][0] == "MeshOn"
    for name, output in PARENT["Outputs"].items():
        reads = {logical for logical, _ in _get_atts(output["Value"])}
        if reads & {"MeshStack", "NetworkStack"}:
            assert output.get("Condition") == "MeshOn", f"output {name} reads a nested stack without MeshOn"
