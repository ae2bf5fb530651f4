"""The sidecar's HTTP/2 header codec against h2's own (hpack's decoder is the reference for what goes on the wire)."""

from __future__ import annotations

import h2.exceptions
import pytest
from h2.utilities import HeaderValidationFlags, normalize_inbound_headers, validate_headers
from hpack import Decoder, Encoder
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portico.core.headers import Headers
from portico.mesh.h2codec import (
    REQUEST,
    RESPONSE,
    TRAILERS,
    BlockKind,
    MalformedHeaders,
    PlainDecoder,
    StatelessEncoder,
    _integer,
    _plain_block,
    inbound,
)
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


# --- received blocks: the one-pass check gives h2's verdicts
_IN_NAMES = [b":method", b":path", b":scheme", b":authority", b":status", b":protocol", b":custom", b":", b"host"]
_IN_NAMES += [b"cookie", b"Cookie", b"te", b"connection", b"keep-alive", b"upgrade", b"x-a", b"X-A", b"a:b", b""]
_IN_NAMES += [b"x a", b"x\x7f", b"x\xe9", b"content-length", b"!#$%&'*+-.^_`|~0123456789"]
_IN_VALUES = [b"", b"GET", b"CONNECT", b"/", b"http", b"svc", b"other", b"200", b"trailers", b"Trailers", b"gzip"]
_IN_VALUES += [b" x", b"x ", b"\tx", b"x\t", b"a b", b"a\rb", b"a\nb", b"a\x00b", b"\xe9\xff", b"x=1", b" ", b"\t"]
_good_field = st.tuples(
    st.sampled_from([b"host", b"cookie", b"te", b"x-a", b"content-length", b"!#$%&'*+-.^_`|~0123456789"]),
    st.sampled_from([b"", b"svc", b"other", b"trailers", b"a b", b"x=1", b"\xe9\xff", b" x", b"x "]),
)
_pseudo_field = st.tuples(
    st.sampled_from([b":method", b":path", b":scheme", b":authority", b":status", b":protocol", b"host"]),
    st.sampled_from([b"", b"svc", b"other", b"CONNECT", b"GET", b"/"]),
)
_in_field = (
    _good_field
    | _pseudo_field
    | st.tuples(st.sampled_from(_IN_NAMES) | st.binary(max_size=4), st.sampled_from(_IN_VALUES) | st.binary(max_size=4))
)
_REQUEST_HEAD = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"), (b":authority", b"svc")]
_HEADS = {
    REQUEST: st.permutations(_REQUEST_HEAD).flatmap(lambda h: st.integers(2, 4).map(lambda n: h[:n])),
    RESPONSE: st.just([(b":status", b"200")]) | st.lists(st.sampled_from([*_REQUEST_HEAD, (b":status", b"204")])),
    TRAILERS: st.just([]) | st.lists(st.sampled_from([(b":status", b"200"), (b":path", b"/")]), max_size=1),
}


def _h2_verdict(fields: list[tuple[bytes, bytes]], kind: BlockKind) -> list[tuple[bytes, bytes]] | None:
    flags = HeaderValidationFlags(
        is_client=kind != REQUEST, is_trailer=kind == TRAILERS, is_response_header=kind == RESPONSE,
        is_push_promise=False,
    )  # fmt: skip
    try:
        return [(f[0], f[1]) for f in validate_headers(normalize_inbound_headers(fields, flags), flags)]
    except h2.exceptions.ProtocolError:
        return None


@st.composite
def _blocks(draw: st.DrawFn) -> tuple[BlockKind, list[tuple[bytes, bytes]]]:
    kind: BlockKind = draw(st.sampled_from([REQUEST, RESPONSE, TRAILERS]))
    fields = draw(_HEADS[kind]) + draw(st.lists(_good_field, max_size=4))
    for _ in range(draw(st.integers(0, 3))):  # a few odd fields, anywhere: pseudo-header fields may land late
        fields.insert(draw(st.integers(0, len(fields))), draw(_in_field))
    return kind, fields


@settings(max_examples=1000)
@given(_blocks())
@example((REQUEST, [*_REQUEST_HEAD, (b"host", b"svc"), (b"host", b"other")]))  # h2 compares the last host
@example((REQUEST, [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b""), (b"host", b"svc")]))
@example((REQUEST, [*_REQUEST_HEAD, (b":protocol", b"websocket")]))
@example((REQUEST, [(b":method", b"CONNECT"), (b":protocol", b"ws"), *_REQUEST_HEAD[1:]]))
@example((TRAILERS, [(b"cookie", b" a"), (b"cookie", b"b ")]))
@example((TRAILERS, [(b"cookie", b"a "), (b"cookie", b" b")]))  # joined first: "a ;  b" is valid
def test_the_one_pass_check_refuses_exactly_what_h2s_validation_refuses_and_yields_the_same_fields(
    block: tuple[BlockKind, list[tuple[bytes, bytes]]],
) -> None:
    kind, fields = block
    expected = _h2_verdict(fields, kind)
    try:
        pseudo, pairs = inbound(fields, kind)
    except MalformedHeaders:
        assert expected is None, f"refused what h2 accepts: {fields!r}"
        return
    assert expected is not None, f"accepted what h2 refuses: {fields!r}"
    assert pseudo == {n.decode("latin-1"): v.decode("latin-1") for n, v in expected if n.startswith(b":")}
    assert pairs == [(n.decode("latin-1"), v.decode("latin-1")) for n, v in expected if not n.startswith(b":")]


def test_a_valid_request_block_is_split_into_pseudo_fields_and_headers() -> None:
    pseudo, pairs = inbound([*_REQUEST_HEAD, (b"cookie", b"a=1"), (b"x-a", b"\xe9"), (b"cookie", b"b=2")], REQUEST)
    assert pseudo == {":method": "GET", ":path": "/", ":scheme": "http", ":authority": "svc"}
    assert pairs == [("x-a", "\xe9"), ("cookie", "a=1; b=2")]
    for bad in ([(b"X-A", b"1")], [(b"x-a", b"a\r\nb")], [(b"connection", b"close")], [(b"te", b"gzip")]):
        with pytest.raises(MalformedHeaders):
            inbound([*_REQUEST_HEAD, *bad], REQUEST)


def test_the_h2_copies_match_the_pinned_h2() -> None:
    """h2fast.FastConnection copies or retraces h2 4.3.0's own `_receive_frame`, `_begin_new_stream`,
    `_open_streams`, `send_headers`, `send_data`, `end_stream`, `acknowledge_received_data`, and reads its
    stream and window internals: a new h2 needs a new look (and tests/unit/mesh/test_h2_fast.py run against it)."""
    import h2

    assert h2.__version__ == "4.3.0", "h2 moved: compare h2fast.FastConnection with the new release"


def _hpack(block: bytes, limit: int) -> object:
    decoder = Decoder(max_header_list_size=limit)
    try:
        return [(f[0], f[1]) for f in decoder.decode(block, raw=True)]
    except Exception as exc:
        return type(exc)


def _plain(block: bytes, limit: int) -> object:
    decoder = PlainDecoder(max_header_list_size=limit)
    try:
        return [(f[0], f[1]) for f in decoder.decode(block, raw=True)]
    except Exception as exc:
        return type(exc)


@settings(max_examples=500)
@given(
    st.lists(_field, max_size=12),
    st.sampled_from([64 * 1024, 300, 60]),
    st.lists(st.tuples(st.integers(0, 400), st.binary(max_size=3)), max_size=2),
)
def test_the_short_decoder_reads_every_block_as_hpack_does(
    fields: list[tuple[bytes, bytes]], limit: int, edits: list[tuple[int, bytes]]
) -> None:
    """Stateless blocks (another sidecar's), then the same blocks damaged or spliced with Huffman, indexing and
    size updates: the same fields, or the same exception (OversizedHeaderListError past the limit)."""
    block = StatelessEncoder().encode(fields)
    assert _plain_block(block, 1 << 30) == fields  # the short way itself, not hpack behind it
    exact = sum(32 + len(n) + len(v) for n, v in fields)
    for edge in (limit, exact, exact - 1):  # the header list limit to the byte
        assert _plain(block, edge) == _hpack(block, edge)
    for at, insert in edits:  # bytes of any kind, anywhere: each must come out as hpack reads it
        at %= len(block) + 1
        block = block[:at] + insert + block[at + 1 :]
        assert _plain(block, limit) == _hpack(block, limit)
    if fields:
        hpack_block = Encoder().encode(fields)  # Huffman and the dynamic table: hpack's own path
        assert _plain(hpack_block, limit) == _hpack(hpack_block, limit)


def test_an_index_past_the_dynamic_table_is_left_to_hpack() -> None:
    for block in (b"\xbd", b"\xbe", b"\x0f\x2e\x01a", b"\x0f\x2f\x01a", b"\x10\x7f", b"\x00\x01a\x7f\x80", b"\xff\x01"):
        assert _plain(block, 1 << 16) == _hpack(block, 1 << 16), block


def _both(decoders: tuple[Decoder, Decoder], block: bytes) -> tuple[object, object]:
    out: list[object] = []
    for decoder in decoders:
        try:
            out.append([(f[0], f[1]) for f in decoder.decode(block, raw=True)])
        except Exception as exc:
            out.append(type(exc))
    return out[0], out[1]


@settings(max_examples=300)
@given(
    st.lists(st.lists(_field, max_size=8), min_size=1, max_size=4),
    st.lists(st.integers(0, 3), min_size=1, max_size=12),
    st.sampled_from([64 * 1024, 300]),
    st.sampled_from([4096, 256, 0]),
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 60), st.binary(max_size=2)), max_size=2),
)
def test_a_clients_repeated_blocks_read_from_the_dynamic_table_as_hpack_reads_them(
    lists: list[list[tuple[bytes, bytes]]],
    order: list[int],
    limit: int,
    table: int,
    edits: list[tuple[int, int, bytes]],
) -> None:
    """A client's encoder (hpack's: Huffman, incremental indexing, evictions in a small table) sends header lists,
    repeating some: hpack and the short decoder, each keeping its own dynamic table, read every block the same, or
    refuse it the same, and their tables stay equal. Repeated lists become blocks of dynamic indexes only."""
    encoder = Encoder()
    encoder.header_table_size = table
    decoders = (Decoder(max_header_list_size=limit), PlainDecoder(max_header_list_size=limit))
    damage = {step: (at, insert) for step, at, insert in edits}
    for step, pick in enumerate(order):
        block = encoder.encode(lists[pick % len(lists)])
        if step in damage:
            at, insert = damage[step]
            at %= len(block) + 1
            block = block[:at] + insert + block[at + 1 :]
        expected, got = _both(decoders, block)
        assert got == expected
        if isinstance(expected, type):
            return  # a refused block ends the connection; the tables may differ from here on
        assert list(decoders[1].header_table.dynamic_entries) == list(decoders[0].header_table.dynamic_entries)


def test_a_name_or_field_from_the_dynamic_table_is_read_as_hpack_reads_it() -> None:
    """Literals (without indexing, never indexed) whose name is a dynamic-table index, and dynamic indexes at and
    past the table's end, against a table filled by hpack's encoder."""
    encoder = Encoder()
    decoders = (Decoder(), PlainDecoder())
    first = encoder.encode([(b"x-one", b"1"), (b"x-two", b"2"), (b"x-three", b"3")])
    filled, same = _both(decoders, first)  # literals with indexing fill both tables (hpack's own path)
    assert same == filled
    assert list(decoders[1].header_table.dynamic_entries) == list(decoders[0].header_table.dynamic_entries)
    for block in (
        b"\x0f\x2f\x01a",  # name index 62: the newest entry, x-three
        b"\x1f\x30\x01b",  # never indexed, name index 63: x-two
        b"\x0f\x31\x00",  # name index 64, empty value: x-one
        b"\x0f\x32\x01c",  # name index 65: past the table
        b"\xbe\xbf\xc0",  # fields 62, 63, 64
        b"\xc1",  # 65: past the table
    ):
        expected, got = _both(decoders, block)
        assert got == expected, block
    assert _plain_block(b"\x0f\x30\x01b", 1 << 16, decoders[1].header_table.dynamic_entries) == [(b"x-two", b"b")]


def _huffman_block(fields: list[tuple[bytes, bytes]], never: bool) -> bytes:
    """Literals without indexing (or never indexed), name and value Huffman-coded, as clients send them."""
    coder = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
    out = b""
    for name, value in fields:
        out += b"\x10" if never else b"\x00"
        for text in (name, value):
            coded = coder.encode(text)
            out += _integer(len(coded), 7, 0x80) + coded
    return out


@settings(max_examples=500)
@given(
    st.lists(_field, max_size=8),
    st.booleans(),
    st.sampled_from([64 * 1024, 300]),
    st.lists(st.tuples(st.integers(0, 400), st.binary(max_size=2)), max_size=2),
)
def test_huffman_coded_literals_are_read_as_hpack_reads_them(
    fields: list[tuple[bytes, bytes]], never: bool, limit: int, edits: list[tuple[int, bytes]]
) -> None:
    """Huffman-coded literals without indexing take the short way, decoded as hpack decodes them; damaged code
    (bad padding, an EOS symbol, a string cut short) is refused or read as hpack does."""
    block = _huffman_block(fields, never)
    assert _plain_block(block, 1 << 30) == fields  # the short way itself
    assert _plain_block(block, 1 << 30) == fields  # and again, from the cache of decoded strings
    assert _plain(block, limit) == _hpack(block, limit)
    for at, insert in edits:
        at %= len(block) + 1
        block = block[:at] + insert + block[at + 1 :]
        assert _plain(block, limit) == _hpack(block, limit)


def test_a_repeated_block_of_dynamic_indexes_takes_the_short_way() -> None:
    fields = [(b":method", b"POST"), (b":path", b"/x.Y/Z"), (b":authority", b"a"), (b"user-agent", b"h2load")]
    encoder, decoder = Encoder(), PlainDecoder()
    decoder.decode(encoder.encode(fields), raw=True)  # the first: literals with indexing, hpack's own way
    again = encoder.encode(fields)
    assert all(b & 0x80 for b in again)  # indexes only
    assert _plain_block(again, 1 << 16, decoder.header_table.dynamic_entries) == fields
    assert [tuple(f) for f in decoder.decode(again, raw=True)] == fields


def test_open_streams_are_counted_and_closed_ones_swept_as_h2_does() -> None:
    """h2fast.FastConnection._open_streams against h2's definition, on a client and server exchanging real frames."""
    import h2.connection

    from portico.mesh.h2conn import connection

    client, server = connection(client_side=True), connection(client_side=False)
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    head = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/")]
    for i in range(12):
        sid = client.get_next_available_stream_id()
        client.send_headers(sid, head, end_stream=i % 3 != 0)  # a third stay open both ways
        if i % 2:
            client.reset_stream(sid)
    server.receive_data(client.data_to_send())
    for conn in (client, server):
        for parity in (0, 1):
            expected = sum(1 for sid, s in conn.streams.items() if s.open and sid % 2 == parity)
            closed = {sid: s.closed_by for sid, s in conn.streams.items() if s.closed}
            assert conn._open_streams(parity) == expected
            assert not any(s.closed for s in conn.streams.values())
            assert all(conn._closed_streams[sid] == by for sid, by in closed.items())
    assert type(client).__mro__[1] is h2.connection.H2Connection
