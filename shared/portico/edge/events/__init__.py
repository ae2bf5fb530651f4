"""Event adapters: each Lambda event format becomes one Request at once, and each Response goes back in kind.

HTTP API payload 2.0 and Lambda Function URLs share one format (`http_api`); REST API payload 1.0 is `rest_api`;
ALB target events are `alb`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.edge.events import alb, http_api, rest_api
from portico.edge.events.common import Inbound, MalformedEvent

__all__ = ["Inbound", "MalformedEvent", "parse_event"]


def parse_event(event: Any) -> Inbound:
    """Detect the event format and parse it; MalformedEvent names what is wrong."""
    if not isinstance(event, Mapping):
        raise MalformedEvent("the event is not a JSON object")
    if http_api.is_v2(event):
        return http_api.parse(event)
    if alb.is_alb(event):
        return alb.parse(event)
    if "httpMethod" in event:
        return rest_api.parse(event)
    raise MalformedEvent("not an HTTP API, REST API, ALB or Function URL event")
