"""Checks recorded AWS calls against IAM policy statements: every call allowed, every allowed action used.

The evaluator covers what Portico's roles use: Allow and Deny statements, Action and Resource with `*` and `?`
wildcards (case-insensitive actions, case-sensitive ARNs, as IAM does), and StringEquals / StringLike conditions
on request keys the recorder sees (acm-pca:TemplateArn). Anything else (NotAction, NotResource, another
condition operator or key) raises, so a policy the checker cannot judge fails loudly instead of passing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localdev.deploy.calls import Call

# IAM action names that differ from the API operation they authorise.
_ACTION_FOR = {("lambda", "Invoke"): "lambda:InvokeFunction"}
# Calls that need no IAM permission at all.
_UNAUTHORISED = {("sts", "GetCallerIdentity")}
_SUPPORTED_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}


class PolicyError(ValueError):
    """A statement uses IAM features the checker does not evaluate; the message names it."""


@dataclass(frozen=True)
class Request:
    """One call as IAM sees it: action, resource ARN and the request's condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...]

    def key(self, name: str) -> str | None:
        return dict(self.context).get(name)


def requests(call: Call, account: str, partition: str = "aws") -> list[Request]:
    """The IAM requests a recorded call makes: one per item for DynamoDB's transactions and batches (IAM authorises
    each item's table with the item's own action), one otherwise, none for calls that need no permission."""
    if call.items:
        return [
            Request(f"dynamodb:{operation}", f"arn:{partition}:dynamodb:{call.region}:{account}:table/{table}", ())
            for operation, table in call.items
        ]
    one = request(call, account, partition)
    return [] if one is None else [one]


def request(call: Call, account: str, partition: str = "aws") -> Request | None:
    """The IAM request a single-resource call makes; None for calls that need no permission."""
    if (call.service, call.operation) in _UNAUTHORISED:
        return None
    action = _ACTION_FOR.get((call.service, call.operation), f"{call.service}:{call.operation}")
    region = call.region
    if call.service == "dynamodb" and call.field("TableName"):
        resource = f"arn:{partition}:dynamodb:{region}:{account}:table/{call.field('TableName')}"
    elif call.service == "acm-pca" and call.field("CertificateAuthorityArn"):
        resource = str(call.field("CertificateAuthorityArn"))
    elif call.service == "secretsmanager" and str(call.field("SecretId") or "").startswith("arn:"):
        resource = str(call.field("SecretId"))  # by ARN, as PortalSessionSecretArn has it
    elif call.service == "lambda" and call.field("FunctionName"):
        name = str(call.field("FunctionName"))
        resource = name if name.startswith("arn:") else f"arn:{partition}:lambda:{region}:{account}:function:{name}"
    else:
        resource = "*"
    context = tuple((f"{call.service}:{k}", v) for k, v in call.fields if k == "TemplateArn")
    return Request(action, resource, context)


def _list(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    regex = fnmatch.translate(pattern)
    return re.match(regex, value, 0 if case else re.IGNORECASE) is not None


def _condition_holds(condition: Mapping[str, Any], req: Request) -> bool:
    for operator, tests in condition.items():
        if operator not in ("StringEquals", "StringLike"):
            raise PolicyError(f"condition operator {operator} is not evaluated by the checker")
        for key, wanted in tests.items():
            actual = req.key(key)
            if actual is None:
                return False
            if operator == "StringEquals" and actual not in _list(wanted):
                return False
            if operator == "StringLike" and not any(_glob(w, actual, case=True) for w in _list(wanted)):
                return False
    return True


def _matches(statement: Mapping[str, Any], req: Request) -> bool:
    unknown = set(statement) - _SUPPORTED_KEYS
    if unknown:
        raise PolicyError(
            f"statement {statement.get('Sid', '?')} uses {sorted(unknown)}, which the checker does not evaluate"
        )
    if not any(_glob(a, req.action, case=False) for a in _list(statement["Action"])):
        return False
    if not any(_glob(r, req.resource, case=True) for r in _list(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), req)


def allowed(statements: Sequence[Mapping[str, Any]], req: Request) -> bool:
    """IAM's rule for one identity policy set: an explicit Deny wins, else some Allow must match."""
    if any(s["Effect"] == "Deny" and _matches(s, req) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, req) for s in statements)


@dataclass(frozen=True)
class Verdict:
    """What a role allows that nothing used, and what was used that the role does not allow."""

    denied: list[Request]
    unused: list[str]  # "Sid: action on resource"


def judge(statements: Sequence[Mapping[str, Any]], requests: Iterable[Request]) -> Verdict:
    reqs = sorted(set(requests), key=lambda r: (r.action, r.resource))
    denied = [r for r in reqs if not allowed(statements, r)]
    unused: list[str] = []
    for statement in (s for s in statements if s["Effect"] == "Allow"):
        for action in _list(statement["Action"]):
            for resource in _list(statement["Resource"]):
                one = {**statement, "Action": action, "Resource": resource}
                if not any(_matches(one, r) for r in reqs):
                    unused.append(f"{statement.get('Sid', '?')}: {action} on {resource}")
    return Verdict(denied, unused)
