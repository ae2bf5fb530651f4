"""Hop-by-hop fields: one definition for the edge and the sidecar, with the edge's own fields protected."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.headers import Headers
from portico.core.hop import UnderscoreAction, forged_names, hop_by_hop_names, underscore_action, underscore_refusal
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


_NAMES = ["accept", "host", "connection", "keep-alive", "te", "x-portico-peer", "x_portico_peer"]
_NAMES += ["x-portico-attempt-count", "content-length", "x-a", "x_a", "Keep_Alive", "upgrade", "traceparent"]


@given(
    st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from(["1", "x-a", "close, x-a", "x_a, te", ""]))),
    st.sampled_from(["drop", "allow"]),
    st.sets(st.sampled_from(["x-portico-attempt-count", "x-portico-peer"])),
)
def test_the_common_case_shortcut_drops_exactly_what_the_full_rules_drop(
    pairs: list[tuple[str, str]], underscores: UnderscoreAction, ok: set[str]
) -> None:
    headers = Headers(pairs)
    internal_ok = frozenset(ok)
    drop = (forged_names(headers, underscores=underscores) - internal_ok) | {"content-length"}
    assert clean_request(headers, underscores, internal_ok=internal_ok).items() == [
        (k, v) for k, v in headers if k not in drop
    ]
    by_hop = hop_by_hop_names(headers) | {"content-length"}
    assert strip_hop_by_hop(headers).items() == [(k, v) for k, v in headers if k not in by_hop]
