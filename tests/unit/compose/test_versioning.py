"""Which API version a request names."""

from __future__ import annotations

from portico.core.compose.versioning import header_version, media_type_version, path_version
from portico.core.headers import Headers


def test_media_type_parameter() -> None:
    assert media_type_version("application/json; version=2") == "2"
    assert media_type_version('text/html, application/vnd.acme+json;q=0.9;version="v3"') == "v3"
    assert media_type_version("application/json") is None and media_type_version(None) is None


def test_accept_version_wins_over_media_type() -> None:
    headers = Headers([("accept", "application/json; version=v1"), ("accept-version", "v2")])
    assert header_version(headers) == "v2"
    assert header_version(Headers([("accept", "application/json;version=v1")])) == "v1"


def test_path_prefix_only_for_known_versions() -> None:
    known = frozenset({"v1", "v2"})
    assert path_version("/v2/orders/1", known) == ("v2", "/orders/1")
    assert path_version("/v2", known) == ("v2", "/")
    assert path_version("/v3/orders", known) is None and path_version("/orders", known) is None
