"""Reads the files a config document names (gRPC descriptor sets, CA bundles), relative to the YAML file naming them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from portico.core.config.context import ValidationSettings


def file_reader(base: Path) -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return (base / Path(name).expanduser()).read_bytes()

    return read


def with_file_reader(settings: ValidationSettings, yaml_path: Path) -> ValidationSettings:
    """`settings` for validating `yaml_path`: paths in it resolve next to it (the validation context's read_file)."""
    return replace(settings, read_file=file_reader(yaml_path.resolve().parent))
