"""The Kubernetes-style envelope every config document shares."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from portico.core.config.base import Model

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class Metadata(Model):
    name: str
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be a DNS-style name: lower-case letters, digits, '-' and '.', at most 253 characters"
            )
        return value
