"""The RateLimitPolicy kind: keys, windows and what to do when the quota store fails."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from portico.core.config.base import Duration, Model, format_duration

_KEY = re.compile(r"^(consumer|sub|ip|header:[A-Za-z0-9-]+|claim:[A-Za-z0-9_.:-]+)$")
# A limit's name becomes a structured-field String in RateLimit headers: keep it to safe printable characters.
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_window(value: float) -> float:
    if value < 1 or not float(value).is_integer():
        raise ValueError("a window is a whole number of seconds, at least 1s")
    return value


class Limit(Model):
    requests: int = Field(ge=1)
    window: Duration
    name: str | None = Field(default=None, description="Shown in RateLimit headers; defaults to the window, e.g. 1m")

    @field_validator("window")
    @classmethod
    def _window(cls, value: float) -> float:
        return check_window(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError("a limit name is 1-64 letters, digits, '_', '.' or '-'")
        return value

    @property
    def label(self) -> str:
        return self.name or format_duration(self.window)


class RateLimitPolicySpec(Model):
    key: str = "consumer"
    limits: list[Limit] = Field(min_length=1)
    cost: int = Field(default=1, ge=1)
    failure_mode: Literal["open", "closed"] = "open"
    timeout: Duration = 0.1
    mode: Literal["exact", "leasing"] = "exact"
    lease_size: int = Field(default=10, ge=1, le=10_000)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("key is consumer, sub, ip, header:<name> or claim:<name>")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        # The quota call sits on every request's path: a budget above a few seconds is a misconfiguration.
        if not 0.001 <= value <= 5:
            raise ValueError("timeout is between 1ms and 5s")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RateLimitPolicySpec:
        windows = [limit.window for limit in self.limits]
        if len(set(windows)) != len(windows):
            raise ValueError("two limits share a window; give each window one limit")
        labels = [limit.label for limit in self.limits]
        if len(set(labels)) != len(labels):
            raise ValueError("limit names must be unique within a policy")
        smallest = min(limit.requests for limit in self.limits)
        if self.cost > smallest:
            raise ValueError(f"cost {self.cost} exceeds the smallest limit ({smallest}): every request is refused")
        return self
