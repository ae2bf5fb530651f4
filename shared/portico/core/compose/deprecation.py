"""Header values for a deprecated route: Deprecation (RFC 9745), Sunset (RFC 8594) and a Link to the docs."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime

from portico.core.config.route import RouteSpec


def deprecation_headers(spec: RouteSpec) -> list[tuple[str, str]]:
    """Empty for a live route. Without a date, `Deprecation: true` (the pre-RFC draft form clients still accept)."""
    if not spec.deprecated:
        return []
    info = spec.deprecation
    out: list[tuple[str, str]] = []
    when = info.date if info is not None else None
    out.append(("deprecation", f"@{int(when.timestamp())}" if when is not None else "true"))
    if info is not None and info.sunset is not None:
        out.append(("sunset", format_datetime(info.sunset.astimezone(UTC), usegmt=True)))
    if info is not None and info.link is not None:
        out.append(("link", f'<{info.link}>; rel="deprecation"; type="text/html"'))
    return out
