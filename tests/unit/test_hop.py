"""Hop-by-hop fields: one definition for the edge and the sidecar, with the edge's own fields protected."""

from __future__ import annotations

from portico.core.headers import Headers
from portico.core.hop import hop_by_hop_names
from portico.core.mesh.hop import strip_hop_by_hop
from portico.edge.filters.hygiene import PORTICO_SET, client_fields_to_drop

SENT = Headers(
    [
        ("connection", "keep-alive, X-Secret, x-request-id"),
        ("keep-alive", "timeout=5"),
        ("x-secret", "1"),
        ("x-request-id", "abc"),
        ("te", "trailers"),
        ("x-portico-sub", "forged"),
        ("accept", "*/*"),
    ]
)


def test_connection_listed_fields_are_hop_by_hop_unless_kept() -> None:
    assert hop_by_hop_names(SENT) == {"connection", "keep-alive", "x-secret", "x-request-id", "te"}
    assert "x-request-id" not in hop_by_hop_names(SENT, keep=PORTICO_SET)


def test_edge_never_drops_a_field_it_sets_but_drops_client_x_portico() -> None:
    assert client_fields_to_drop(SENT) == {"connection", "keep-alive", "x-secret", "te", "x-portico-sub"}


def test_sidecar_hop_drops_the_same_set_and_content_length() -> None:
    out = strip_hop_by_hop(Headers([*SENT.items(), ("content-length", "3")]))
    assert out.names() == frozenset({"accept", "x-portico-sub"})
