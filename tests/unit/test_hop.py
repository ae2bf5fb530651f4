"""Hop-by-hop fields: one definition for the edge and the sidecar, with the edge's own fields protected."""

from __future__ import annotations

import pytest

from portico.core.headers import Headers
from portico.core.hop import hop_by_hop_names, underscore_action, underscore_refusal
from portico.core.mesh.hop import clean_request, strip_hop_by_hop
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


# --- issue 20 defect 5: underscore spellings (CGI/WSGI read `X_Portico_Sub` as `X-Portico-Sub`)
FORGED = Headers(
    [
        ("X_Portico_Sub", "admin"),
        ("x-portico_consumer", "root"),
        ("X_PORTICO_PEER", "spiffe://forged"),
        ("transfer_encoding", "chunked"),
        ("x_forwarded_for", "6.6.6.6"),
        ("connection", "x-secret"),
        ("x_secret", "1"),
        ("x_custom", "plain"),
        ("accept", "*/*"),
    ]
)
ALWAYS = {"x_portico_sub", "x-portico_consumer", "x_portico_peer", "transfer_encoding", "x_secret", "connection"}


def test_every_spelling_of_a_protected_name_is_dropped_whatever_the_underscore_setting() -> None:
    for action in ("drop", "allow"):
        dropped = client_fields_to_drop(FORGED, action)  # type: ignore[arg-type]
        assert ALWAYS | {"x_forwarded_for"} <= dropped  # the edge sets x-forwarded-for itself
        assert "accept" not in dropped
    assert "x_custom" in client_fields_to_drop(FORGED, "drop")
    assert "x_custom" not in client_fields_to_drop(FORGED, "allow")


def test_sidecar_hops_drop_the_same_spellings() -> None:
    out = clean_request(FORGED, "allow", internal_ok=frozenset())
    assert not out.names() & ALWAYS and {"x_custom", "accept"} <= out.names()
    assert clean_request(FORGED, "drop", internal_ok=frozenset()).names() == frozenset({"accept"})
    # inbound keeps the calling sidecar's own x-portico-* as spelled, never an underscore alias
    sent = Headers([("x-portico-attempt-count", "2"), ("x_portico_attempt_count", "9")])
    assert clean_request(sent, "allow", internal_ok=frozenset({"x-portico-attempt-count"})).items() == [
        ("x-portico-attempt-count", "2")
    ]


def test_reject_answers_400_naming_the_fields() -> None:
    refused = underscore_refusal(FORGED, "reject", "rid")
    assert refused is not None and refused.status == 400 and b"x_custom" in refused.body
    assert underscore_refusal(FORGED, "drop") is None
    assert underscore_refusal(Headers([("accept", "*/*")]), "reject") is None


def test_underscore_setting_is_parsed_strictly() -> None:
    assert underscore_action(None, "V") == "drop" and underscore_action(" Allow ", "V") == "allow"
    with pytest.raises(ValueError, match="V="):
        underscore_action("ignore", "V")
