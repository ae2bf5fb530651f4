"""Creates by API what the local endpoint's CloudFormation skips, so the local stack matches the template.

moto's CloudFormation (the local endpoint) creates tables, functions, roles, log groups and layers, but it
skips the HTTP API and its stage, CloudWatch alarms, a function's Layers, TracingConfig and LoggingConfig,
and a table's TTL and point-in-time recovery. Each filler below compares what the template asks for with what
the endpoint reports and only creates or updates what is missing, so a better endpoint needs no change here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from localdev.deploy.resolve import ResolveError, Resolver

Clients = Callable[[str], Any]
_FUNCTION_IN_URI = re.compile(r"functions/(arn:[^/]+)/invocations")
_NO_PHYSICAL_ID = {"AWS::Lambda::Permission"}  # created, but the local endpoint reports no physical id


class GapFiller:
    """Fills the gaps of one created stack; `filled` says what it did, `unfilled` what it could not."""

    def __init__(self, template: dict[str, Any], resolver: Resolver, clients: Clients, stack_name: str) -> None:
        self._resources: dict[str, Any] = template["Resources"]
        self._r = resolver
        self._client = clients
        self._stack = stack_name
        self.filled: list[str] = []
        self.unfilled: list[str] = []

    def _wanted(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (logical, res["Type"], res.get("Properties", {}))
            for logical, res in self._resources.items()
            if "Condition" not in res or self._r.condition(res["Condition"])
        ]

    def fill(self) -> None:
        wanted = self._wanted()
        # Order matters: layer ARNs and the API id are referenced by what follows.
        for kind, step in (
            ("AWS::Lambda::LayerVersion", self._layer),
            ("AWS::ApiGatewayV2::Api", self._http_api),
            ("AWS::ApiGatewayV2::Stage", self._stage),
            ("AWS::Lambda::Function", self._function),
            ("AWS::DynamoDB::Table", self._table),
            ("AWS::CloudWatch::Alarm", self._alarm),
            ("AWS::EC2::SecurityGroupEgress", self._egress),
            ("AWS::EC2::SecurityGroupIngress", self._ingress),
        ):
            for logical, _, props in (w for w in wanted if w[1] == kind):
                step(logical, props)
        for logical, kind, _ in wanted:
            if logical not in self._r.refs and kind not in _NO_PHYSICAL_ID:
                self.unfilled.append(f"{logical} ({kind}) was not created and has no local filler")

    def _layer(self, logical: str, props: dict[str, Any]) -> None:
        if self._r.refs.get(logical, "").startswith("arn:"):
            return
        prefix = f"{self._stack}-{logical}-"
        for layer in self._client("lambda").list_layers()["Layers"]:
            if layer["LayerName"].startswith(prefix):
                self._r.refs[logical] = layer["LatestMatchingVersion"]["LayerVersionArn"]
                self.filled.append(f"{logical}: looked up the layer version ARN (local Ref gives none)")
                return

    def _http_api(self, logical: str, props: dict[str, Any]) -> None:
        if logical in self._r.refs:
            return
        api = self._client("apigatewayv2")
        body = self._r.resolve(props["Body"])
        api_id = api.create_api(
            Name=str(body.get("info", {}).get("title", logical)),
            ProtocolType="HTTP",
            Description=str(body.get("info", {}).get("description", "")),
        )["ApiId"]
        self._r.refs[logical] = api_id
        authorizers = self._authorizers(api_id, body)
        for path, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                integration = operation.get("x-amazon-apigateway-integration")
                if integration is None:
                    continue
                uri = str(integration["uri"])
                found = _FUNCTION_IN_URI.search(uri)
                integration_id = api.create_integration(
                    ApiId=api_id,
                    IntegrationType=str(integration["type"]).upper(),
                    IntegrationMethod=integration.get("httpMethod", "POST"),
                    IntegrationUri=found.group(1) if found else uri,
                    PayloadFormatVersion=integration.get("payloadFormatVersion", "2.0"),
                )["IntegrationId"]
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                default = operation.get("isDefaultRoute") or path == "/$default"
                route: dict[str, Any] = {"RouteKey": "$default" if default else f"{verb} {path}"}
                for requirement in operation.get("security", []):
                    for name in requirement:
                        if name in authorizers:
                            route.update(AuthorizationType="CUSTOM", AuthorizerId=authorizers[name])
                api.create_route(ApiId=api_id, Target=f"integrations/{integration_id}", **route)
                target = found.group(1) if found else uri
                self.filled.append(f"{logical}: route {route['RouteKey']} -> {target}")
        self.filled.append(f"{logical}: created HTTP API {api_id} with {len(authorizers)} authorizer(s)")

    def _authorizers(self, api_id: str, body: dict[str, Any]) -> dict[str, str]:
        created: dict[str, str] = {}
        for name, scheme in body.get("components", {}).get("securitySchemes", {}).items():
            spec = scheme.get("x-amazon-apigateway-authorizer")
            if not spec or spec.get("type") != "request":
                continue
            created[name] = self._client("apigatewayv2").create_authorizer(
                ApiId=api_id,
                Name=name,
                AuthorizerType="REQUEST",
                AuthorizerUri=str(spec["authorizerUri"]),
                IdentitySource=list(spec.get("identitySource", [])),
                AuthorizerPayloadFormatVersion=str(spec.get("authorizerPayloadFormatVersion", "2.0")),
                EnableSimpleResponses=bool(spec.get("enableSimpleResponses", False)),
                AuthorizerResultTtlInSeconds=int(spec.get("authorizerResultTtlInSeconds", 0)),
            )["AuthorizerId"]
        return created

    def _stage(self, logical: str, props: dict[str, Any]) -> None:
        if logical in self._r.refs:
            return
        stage = self._r.resolve(props)
        routes = stage.get("DefaultRouteSettings", {})
        settings: dict[str, Any] = {"DetailedMetricsEnabled": bool(routes.get("DetailedMetricsEnabled", False))}
        if "ThrottlingBurstLimit" in routes:
            settings["ThrottlingBurstLimit"] = int(routes["ThrottlingBurstLimit"])
        if "ThrottlingRateLimit" in routes:
            settings["ThrottlingRateLimit"] = float(routes["ThrottlingRateLimit"])
        self._client("apigatewayv2").create_stage(
            ApiId=stage["ApiId"],
            StageName=stage["StageName"],
            AutoDeploy=bool(stage.get("AutoDeploy", False)),
            AccessLogSettings=stage.get("AccessLogSettings", {}),
            DefaultRouteSettings=settings,
            Tags={k: str(v) for k, v in stage.get("Tags", {}).items()},
        )
        self._r.refs[logical] = stage["StageName"]
        self.filled.append(f"{logical}: created stage {stage['StageName']} with throttling and access logs")

    def _function(self, logical: str, props: dict[str, Any]) -> None:
        name = self._r.refs.get(logical)
        if name is None:
            return
        lam = self._client("lambda")
        actual = lam.get_function_configuration(FunctionName=name)
        update: dict[str, Any] = {}
        layers = [str(arn) for arn in self._r.resolve(props.get("Layers", []))]
        if layers and [layer["Arn"] for layer in actual.get("Layers", [])] != layers:
            update["Layers"] = layers
        tracing = self._r.resolve(props.get("TracingConfig"))
        if tracing and actual.get("TracingConfig", {}).get("Mode") != tracing.get("Mode"):
            update["TracingConfig"] = tracing
        logging_config = self._r.resolve(props.get("LoggingConfig"))
        if logging_config and not actual.get("LoggingConfig"):
            update["LoggingConfig"] = logging_config
        if update:
            lam.update_function_configuration(FunctionName=name, **update)
            self.filled.append(f"{logical}: set {', '.join(sorted(update))}")

    def _table(self, logical: str, props: dict[str, Any]) -> None:
        name = self._r.refs.get(logical)
        if name is None:
            return
        ddb = self._client("dynamodb")
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            status = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if status.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                spec = {"AttributeName": ttl["AttributeName"], "Enabled": True}
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
                self.filled.append(f"{logical}: enabled TTL on {ttl['AttributeName']}")
        pitr = props.get("PointInTimeRecoverySpecification", {})
        if pitr.get("PointInTimeRecoveryEnabled"):
            backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            recovery = backups.get("PointInTimeRecoveryDescription", {})
            if recovery.get("PointInTimeRecoveryStatus") != "ENABLED":
                ddb.update_continuous_backups(
                    TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
                )
                self.filled.append(f"{logical}: enabled point-in-time recovery")

    def _egress(self, logical: str, props: dict[str, Any]) -> None:
        """A standalone egress rule (moto's CloudFormation has no model for it; it has one for ingress)."""
        if logical in self._r.refs:
            return
        rule = self._r.resolve(props)
        permission: dict[str, Any] = {
            "IpProtocol": str(rule["IpProtocol"]),
            "FromPort": int(rule["FromPort"]),
            "ToPort": int(rule["ToPort"]),
        }
        if "DestinationSecurityGroupId" in rule:
            peer = {"GroupId": str(rule["DestinationSecurityGroupId"]), "Description": str(rule.get("Description", ""))}
            permission["UserIdGroupPairs"] = [peer]
        else:
            permission["IpRanges"] = [{"CidrIp": str(rule["CidrIp"]), "Description": str(rule.get("Description", ""))}]
        group = str(rule["GroupId"])
        self._client("ec2").authorize_security_group_egress(GroupId=group, IpPermissions=[permission])
        self._r.refs[logical] = f"{group}-egress-{logical}"
        self.filled.append(f"{logical}: authorised egress {permission['FromPort']}/tcp on {group}")

    def _ingress(self, logical: str, props: dict[str, Any]) -> None:
        """A standalone ingress rule: moto applies it but reports no physical id; authorise it when it is absent."""
        if logical in self._r.refs:
            return
        rule = self._r.resolve(props)
        group, port, source = str(rule["GroupId"]), int(rule["FromPort"]), rule.get("SourceSecurityGroupId")
        ec2 = self._client("ec2")
        existing = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0].get("IpPermissions", [])
        present = any(
            p.get("FromPort") == port and any(pair.get("GroupId") == source for pair in p.get("UserIdGroupPairs", []))
            for p in existing
        )
        if not present:
            pair = {"GroupId": str(source), "Description": str(rule.get("Description", ""))}
            permission = {"IpProtocol": str(rule["IpProtocol"]), "FromPort": port, "ToPort": int(rule["ToPort"])}
            ec2.authorize_security_group_ingress(
                GroupId=group, IpPermissions=[{**permission, "UserIdGroupPairs": [pair]}]
            )
            self.filled.append(f"{logical}: authorised ingress {port}/tcp on {group} from {source}")
        self._r.refs[logical] = f"{group}-ingress-{logical}"

    def _alarm(self, logical: str, props: dict[str, Any]) -> None:
        if logical in self._r.refs:
            return
        try:
            alarm = self._r.resolve(props)
        except ResolveError as error:
            self.unfilled.append(f"{logical}: {error}")
            return
        alarm.setdefault("AlarmName", f"{self._stack}-{logical}")
        self._client("cloudwatch").put_metric_alarm(**alarm)
        self._r.refs[logical] = alarm["AlarmName"]
        self.filled.append(f"{logical}: created alarm {alarm['AlarmName']}")
