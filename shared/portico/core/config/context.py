"""What validation may depend on beyond the document itself, passed as pydantic's validation context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationInfo


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    """`allow_loopback` is the local-development allowance: upstreams on 127.0.0.0/8 and localhost are accepted.

    Metadata and link-local addresses stay refused even then.

    `read_file` reads a file that config refers to (a gRPC descriptor set, a CA bundle), relative to the YAML file
    being read; it is given by whoever reads files (the CLI, dev up). Without it, such a reference is an error,
    which is right for stored config: it carries the file's bytes, never a path.
    """

    allow_loopback: bool = False
    read_file: Callable[[str], bytes] | None = field(default=None, compare=False)


def settings_from(info: ValidationInfo) -> ValidationSettings:
    ctx: Any = info.context
    found = ctx.get("settings") if isinstance(ctx, dict) else None
    if isinstance(found, ValidationSettings):
        return found
    return ValidationSettings()
