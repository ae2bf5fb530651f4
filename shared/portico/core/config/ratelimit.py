"""The RateLimitPolicy kind: keys, windows and what to do when the quota store fails."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from portico.core.config.base import Duration, Model

_KEY = re.compile(r"^(consumer|sub|ip|header:[A-Za-z0-9-]+|claim:[A-Za-z0-9_.:-]+)$")


class Limit(Model):
    requests: int = Field(ge=1)
    window: Duration

    @field_validator("window")
    @classmethod
    def _window(cls, value: float) -> float:
        if value < 1 or not float(value).is_integer():
            raise ValueError("a window is a whole number of seconds, at least 1s")
        return value


class RateLimitPolicySpec(Model):
    key: str = "consumer"
    limits: list[Limit] = Field(min_length=1)
    cost: int = Field(default=1, ge=1)
    failure_mode: Literal["open", "closed"] = "open"
    timeout: Duration = 0.1
    mode: Literal["exact", "leasing"] = "exact"
    lease_size: int = Field(default=10, ge=1)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("key is consumer, sub, ip, header:<name> or claim:<name>")
        return value
