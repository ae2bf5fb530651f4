"""What validation may depend on beyond the document itself, passed as pydantic's validation context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationInfo


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    """`allow_loopback` is the local-development allowance: upstreams on 127.0.0.0/8 and localhost are accepted.

    Metadata and link-local addresses stay refused even then.
    """

    allow_loopback: bool = False


def settings_from(info: ValidationInfo) -> ValidationSettings:
    ctx: Any = info.context
    found = ctx.get("settings") if isinstance(ctx, dict) else None
    if isinstance(found, ValidationSettings):
        return found
    return ValidationSettings()
