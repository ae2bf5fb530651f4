"""Validates EMF log events against the JSON Schema written from the CloudWatch EMF specification, plus the
cross-references JSON Schema cannot express (target members exist and have the right types)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA = json.loads((Path(__file__).parents[2] / "fixtures" / "schemas" / "cloudwatch-emf.schema.json").read_text())
_VALIDATOR = Draft202012Validator(SCHEMA)
MAX_EVENT_BYTES = 1024 * 1024  # a CloudWatch Logs event


def emf_errors(line: str) -> list[str]:
    """Every way `line` breaks the specification; empty when it is a valid EMF log event."""
    if len(line.encode()) > MAX_EVENT_BYTES:
        return ["log event larger than 1 MB"]
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        return [f"not one JSON object: {exc}"]
    errors = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in _VALIDATOR.iter_errors(doc)]
    if errors:
        return errors
    return _references(doc)


def _references(doc: dict[str, Any]) -> list[str]:
    errors = []
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                value = doc.get(key)
                if not isinstance(value, str):
                    errors.append(f"dimension {key!r}: the root member must be a string, found {value!r}")
                elif not 1 <= len(value) <= 1024:
                    errors.append(f"dimension {key!r}: value must be 1-1024 characters")
        for metric in directive["Metrics"]:
            value = doc.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            if not values or len(values) > 100:
                errors.append(f"metric {metric['Name']!r}: 1-100 values allowed, found {len(values)}")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                errors.append(f"metric {metric['Name']!r}: the root member must be a number or array of numbers")
    return errors
