"""Edge Lambda entry point: parse the event, run the cached pipeline, serialise the answer. Nothing else lives here.

Settings are read at import, so a bad PORTICO_* value fails the cold start instead of every request.
"""

from __future__ import annotations

from typing import Any

from portico.edge.runtime import Edge

edge = Edge.from_env()
edge.warm()


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return edge.handle(event)
