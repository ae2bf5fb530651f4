"""CloudFormation spells App Mesh properties in PascalCase (`AWSCloudMap`, `TLS`); the API in camelCase."""

from __future__ import annotations

from typing import Any


def camel(key: str) -> str:
    """`PortMapping` -> `portMapping`, `TLS` -> `tls`, `AWSCloudMap` -> `awsCloudMap`; camelCase stays as it is."""
    run = 0
    while run < len(key) and key[run].isupper():
        run += 1
    if run == 0:
        return key
    if run == len(key) or run == 1:
        return key[:run].lower() + key[run:]
    if key[run].isdigit():  # `HTTP2Route` -> `http2Route`
        return key[:run].lower() + key[run:]
    return key[: run - 1].lower() + key[run - 1 :]


def camel_tree(value: Any) -> Any:
    """Every mapping key of a property tree in camelCase; values (header names, paths) are left alone."""
    if isinstance(value, dict):
        return {camel(str(k)): camel_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_tree(v) for v in value]
    return value
