"""Parsing untrusted input: CloudFormation tags, shell placeholders, bounds on size, depth and aliases."""

from __future__ import annotations

import pytest

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.intrinsics import Scope, resolve
from portico.core.appmesh.keys import camel
from portico.core.appmesh.source import MAX_BYTES, MAX_DEPTH, load_json, load_yaml


def test_short_form_tags_become_long_form() -> None:
    data = load_yaml("t.yaml", "a: !Ref P\nb: !GetAtt Mesh.MeshName\nc: !Sub '${P}-x'\nd: !ImportValue e\n")
    assert data == {
        "a": {"Ref": "P"},
        "b": {"Fn::GetAtt": ["Mesh", "MeshName"]},
        "c": {"Fn::Sub": "${P}-x"},
        "d": {"Fn::ImportValue": "e"},
    }


def test_intrinsics_resolve_or_stay_symbolic() -> None:
    scope = Scope(parameters={"P": "demo"}, resources={"Mesh": {"Properties": {"MeshName": {"Fn::Sub": "${P}-mesh"}}}})
    value = {
        "a": {"Fn::Sub": "${P}.${AWS::Region}.${!Literal}"},
        "b": {"Fn::GetAtt": ["Mesh", "MeshName"]},
        "c": {"Fn::ImportValue": "x"},
        "d": {"Fn::Join": ["-", [{"Ref": "P"}, "y"]]},
    }
    assert resolve(value, scope) == {
        "a": "demo.${AWS::Region}.${Literal}",
        "b": "demo-mesh",
        "c": "${ImportValue x}",
        "d": "demo-y",
    }
    assert scope.symbols == {"a": "AWS::Region", "c": "ImportValue x"}


def test_cli_json_shell_placeholders_become_strings() -> None:
    assert load_json("r.json", '{"a": $NAME, "b": "$kept", "c": [${OTHER}]}') == {
        "a": "${NAME}",
        "b": "$kept",
        "c": ["${OTHER}"],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, n in zip("abcdef", "bcdefg", strict=True)
            ),
            "expands to more than",
        ),
        ("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "nests deeper"),
        ("x" * (MAX_BYTES + 1), "larger than"),
    ],
)
def test_untrusted_yaml_is_bounded(text: str, message: str) -> None:
    with pytest.raises(ImportFailure, match=message):
        load_yaml("evil.yaml", text)


def test_untrusted_json_is_bounded() -> None:
    with pytest.raises(ImportFailure, match="nests deeper"):
        load_json("evil.json", "[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("PortMapping", "portMapping"),
        ("TLS", "tls"),
        ("AWSCloudMap", "awsCloudMap"),
        ("HTTP2", "http2"),
        ("Http2Route", "http2Route"),
        ("portMapping", "portMapping"),
        ("DNS", "dns"),
    ],
)
def test_cloudformation_keys_become_api_keys(key: str, expected: str) -> None:
    assert camel(key) == expected


def test_no_value_removes_the_property_and_known_conditions_choose_the_branch() -> None:
    scope = Scope(parameters={"Path": ""}, conditions={"HasPath": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Path"}, ""]}]}})
    value = {
        "tls": {"Fn::If": ["HasPath", {"enforce": True}, {"Ref": "AWS::NoValue"}]},
        "list": [{"Ref": "AWS::NoValue"}, 1],
    }
    assert resolve(value, scope) == {"list": [1]}
    assert not scope.symbols
