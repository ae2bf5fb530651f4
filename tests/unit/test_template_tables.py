"""template.yaml is read with CloudFormation short tags, and its tables become CreateTable arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from localdev.tables import TEMPLATE_PATH, TemplateError, load_template, table_definitions

SHORT_TAGS = """
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Or [!Condition NotProd, !Condition IsProd]]
Resources:
  Thing:
    Properties:
      Name: !Sub "${AWS::StackName}-thing"
      Arn: !GetAtt Other.Arn
      Pick: !Select [0, !GetAZs ""]
      Joined: !Join ["-", [a, !FindInMap [Map, Key, Value]]]
      Maybe: !If [IsProd, !Base64 "x", !ImportValue shared]
      Parts: !Split [",", "a,b"]
      Cidrs: !Cidr [10.0.0.0/16, 2, 8]
"""


def test_short_tags_become_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(SHORT_TAGS)
    data = load_template(path)
    props = data["Resources"]["Thing"]["Properties"]
    assert data["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert data["Conditions"]["NotProd"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert props["Name"] == {"Fn::Sub": "${AWS::StackName}-thing"}
    assert props["Arn"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert props["Pick"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert props["Maybe"]["Fn::If"][2] == {"Fn::ImportValue": "shared"}
    assert props["Cidrs"] == {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}


def test_repository_template_defines_the_three_tables() -> None:
    definitions = table_definitions()
    assert definitions["config"].create_args["KeySchema"] == [
        {"AttributeName": "kind", "KeyType": "HASH"},
        {"AttributeName": "name", "KeyType": "RANGE"},
    ]
    assert definitions["config"].ttl_attribute is None
    assert definitions["quota"].ttl_attribute == "expiresAt"
    assert definitions["registry"].ttl_attribute == "expiresAt"
    assert "SSESpecification" not in definitions["quota"].create_args  # CloudFormation-only shape


def test_indexes_and_streams_are_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    text = TEMPLATE_PATH.read_text()
    gsi = """      GlobalSecondaryIndexes:
        - IndexName: byService
          KeySchema: [{AttributeName: service, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      StreamSpecification:
        StreamViewType: NEW_IMAGE
"""
    path.write_text(
        text.replace(
            "  RegistryTable:\n    Type: AWS::DynamoDB::Table\n    Properties:\n",
            "  RegistryTable:\n    Type: AWS::DynamoDB::Table\n    Properties:\n" + gsi,
        )
    )
    args = table_definitions(path)["registry"].create_args
    assert args["GlobalSecondaryIndexes"][0]["IndexName"] == "byService"
    assert args["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def test_missing_table_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("Resources:\n  ConfigTable: {Type: AWS::S3::Bucket}\n")
    with pytest.raises(TemplateError, match="ConfigTable"):
        table_definitions(path)


def test_intrinsic_in_a_schema_field_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    text = (
        Path("template.yaml")
        .read_text()
        .replace(
            "      BillingMode: PAY_PER_REQUEST\n",
            "      BillingMode: !If [Prod, PROVISIONED, PAY_PER_REQUEST]\n",
            1,
        )
    )
    path.write_text(text)
    with pytest.raises(TemplateError, match="Fn::If"):
        table_definitions(path)
