"""AuthorizationPolicy: the subset of Istio's security API that the inbound sidecar evaluates on SPIFFE identities."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portico.core.config.base import Model


class WorkloadSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict)


class Source(Model):
    principals: list[str] = Field(default_factory=list)
    not_principals: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    not_namespaces: list[str] = Field(default_factory=list)


class Operation(Model):
    methods: list[str] = Field(default_factory=list)
    not_methods: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    not_paths: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    ports: list[str] = Field(default_factory=list)


class RuleFrom(Model):
    source: Source


class RuleTo(Model):
    operation: Operation


class Rule(Model):
    from_: list[RuleFrom] = Field(default_factory=list, alias="from")
    to: list[RuleTo] = Field(default_factory=list)


class AuthorizationPolicySpec(Model):
    selector: WorkloadSelector | None = None
    action: Literal["ALLOW", "DENY"] = "ALLOW"
    rules: list[Rule] = Field(default_factory=list)
