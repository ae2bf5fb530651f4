"""The sidecar's HTTP/2 header codec against h2's own (hpack's decoder is the reference for what goes on the wire)."""

from __future__ import annotations

from hpack import Decoder
from hypothesis import given
from hypothesis import strategies as st

from portico.core.headers import Headers
from portico.mesh.h2codec import StatelessEncoder
from portico.mesh.h2conn import encode

_NAMES = [b":method", b":path", b":status", b":authority", b"content-type", b"te", b"authorization", b"cookie"]
_NAMES += [b"x-portico-attempt-count", b"traceparent", b"grpc-status", b"x-" + b"n" * 200, b"accept-encoding"]
_VALUES = [b"", b"POST", b"200", b"/", b"trailers", b"application/grpc", b"gzip, deflate", b"\xe9t\xe9", b"v" * 300]
_field = st.tuples(st.sampled_from(_NAMES), st.sampled_from(_VALUES) | st.binary(max_size=40))


@given(st.lists(st.lists(_field, max_size=12), min_size=1, max_size=4), st.sampled_from([None, 0, 256, 4096]))
def test_every_block_decodes_to_its_fields_and_leaves_the_dynamic_table_empty(
    blocks: list[list[tuple[bytes, bytes]]], resize: int | None
) -> None:
    encoder, decoder = StatelessEncoder(), Decoder()
    if resize is not None:  # the peer's SETTINGS_HEADER_TABLE_SIZE: acknowledged at the start of the next block
        encoder.header_table_size = resize
    for fields in blocks:
        block = encoder.encode(fields)
        assert decoder.decode(block, raw=True) == fields
        assert not decoder.header_table.dynamic_entries
    if resize is not None:
        assert decoder.header_table.maxsize == resize


def test_credentials_are_never_indexed_and_nothing_is_huffman_coded() -> None:
    encoder, decoder = StatelessEncoder(), Decoder()
    block = encoder.encode([(b"authorization", b"Bearer t"), (b"cookie", b"a=1"), (b"x-a", b"plain")])
    decoded = decoder.decode(block, raw=True)
    assert [h.indexable for h in decoded] == [False, False, True]
    assert b"Bearer t" in block and b"plain" in block  # literals as they are, not Huffman-coded


def test_fields_leave_as_the_bytes_they_arrived_as() -> None:
    """A value decoded as latin-1 goes out as the same bytes, not re-encoded as UTF-8."""
    raw = "caf\xe9"  # b"caf\xe9" decoded as latin-1
    out = dict(encode(Headers([("x-name", raw), ("connection", "close"), ("te", "gzip")])))
    assert out == {b"x-name": b"caf\xe9"}
