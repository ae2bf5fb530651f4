"""AuthorizationPolicy: the subset of Istio's security API that the inbound sidecar evaluates on SPIFFE identities.

Istio fields Portico does not implement are refused with "not supported by Portico" by `unsupported.py` before
these models see them, so the models hold only what the sidecar really enforces.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from portico.core.config.base import Model

# The `when` keys the sidecar evaluates (others are refused by unsupported.py with the feature named).
CONDITION_KEY = re.compile(
    r"^(request\.headers\[[^\[\]]+\]|source\.ip|source\.principal|source\.namespace|destination\.port|"
    r"request\.auth\.claims(\[[^\[\]]+\])+)$"
)


def _check_blocks(values: list[str]) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR block") from None
    return values


class WorkloadSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict)


class Source(Model):
    principals: list[str] = Field(default_factory=list)
    not_principals: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    not_namespaces: list[str] = Field(default_factory=list)
    service_accounts: list[str] = Field(default_factory=list)
    not_service_accounts: list[str] = Field(default_factory=list)
    ip_blocks: list[str] = Field(default_factory=list)
    not_ip_blocks: list[str] = Field(default_factory=list)
    trust_domains: list[str] = Field(default_factory=list)
    not_trust_domains: list[str] = Field(default_factory=list)

    @field_validator("ip_blocks", "not_ip_blocks")
    @classmethod
    def _blocks(cls, value: list[str]) -> list[str]:
        return _check_blocks(value)


class Operation(Model):
    methods: list[str] = Field(default_factory=list)
    not_methods: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    not_paths: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    ports: list[str] = Field(default_factory=list)
    not_ports: list[str] = Field(default_factory=list)


class RuleFrom(Model):
    source: Source


class RuleTo(Model):
    operation: Operation


class Condition(Model):
    """One `when` entry: the request attribute `key` must match one of `values` and none of `notValues`."""

    key: str
    values: list[str] = Field(default_factory=list)
    not_values: list[str] = Field(default_factory=list)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not CONDITION_KEY.match(value):
            raise ValueError(f"unknown condition key {value!r}")
        return value

    @model_validator(mode="after")
    def _addresses(self) -> Condition:
        if self.key == "source.ip":
            _check_blocks([*self.values, *self.not_values])
        if not self.values and not self.not_values:
            raise ValueError("a condition needs values or notValues")
        return self


class Rule(Model):
    from_: list[RuleFrom] = Field(default_factory=list, alias="from")
    to: list[RuleTo] = Field(default_factory=list)
    when: list[Condition] = Field(default_factory=list)


class AuthorizationPolicySpec(Model):
    selector: WorkloadSelector | None = None
    action: Literal["ALLOW", "DENY"] = "ALLOW"
    rules: list[Rule] = Field(default_factory=list)
