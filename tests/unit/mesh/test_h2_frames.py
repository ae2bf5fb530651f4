"""h2frames against hyperframe and h2's frame buffer: a frame the short way takes is read as they read it, and the
frames it writes are parsed back by them as what was meant (RFC 9113 4.1, 6)."""

from __future__ import annotations

import h2.exceptions
import pytest
from h2.frame_buffer import FrameBuffer
from hyperframe.exceptions import InvalidPaddingError
from hyperframe.frame import ContinuationFrame, DataFrame, Frame, HeadersFrame, RstStreamFrame, WindowUpdateFrame
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portico.mesh import h2frames

_KINDS = st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x4, 0x6, 0x7, 0x8, 0x9, 0xA, 0x42])
_STREAMS = st.sampled_from([0, 1, 2, 3, 0x7FFFFFFF, 0x80000001, 0x80000000])


def _raw(kind: int, flags: int, stream_id: int, payload: bytes, length: int | None = None) -> bytes:
    size = len(payload) if length is None else length
    return size.to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


def _hyperframe(data: bytes, max_size: int) -> Frame | type[Exception] | None:
    """What h2's frame buffer yields first for these bytes: a frame, None (incomplete), or the error it raises."""
    buffer = FrameBuffer()
    buffer.max_frame_size = max_size
    buffer.add_data(data)
    try:
        return next(buffer, None)
    except (h2.exceptions.ProtocolError, InvalidPaddingError) as exc:  # h2's receive_data answers both
        return type(exc)


@settings(max_examples=1500)
@given(
    _KINDS,
    st.integers(0, 255),
    _STREAMS,
    st.binary(max_size=40),
    st.one_of(st.none(), st.integers(0, 60)),
    st.sampled_from([16384, 20]),
)
@example(0x8, 0, 1, b"\x80\x00\x00\x01", None, 16384)  # reserved bit in the increment
@example(0x8, 0, 0, b"\x00\x00\x00\x00", None, 16384)  # zero increment
@example(0x1, 0x24, 1, b"\x00\x00\x00\x01\x10\x82", None, 16384)  # priority
@example(0x0, 0x9, 1, b"\x05abc", None, 16384)  # padding longer than the frame
def test_a_frame_the_short_way_takes_is_read_as_hyperframe_reads_it(
    kind: int, flags: int, stream_id: int, payload: bytes, length: int | None, max_size: int
) -> None:
    data = _raw(kind, flags, stream_id, payload, length) + b"\x00" * 3
    got_kind, frame, end = h2frames.read(data, 0, max_size)
    assert got_kind == kind
    reference = _hyperframe(data, max_size)
    if frame is None:
        return  # h2's frame buffer reads it: nothing to compare
    assert end == 9 + (len(payload) if length is None else length)
    assert isinstance(reference, Frame), reference
    assert frame.stream_id == reference.stream_id
    assert frame.flags == {f for f in reference.flags if f in ("END_STREAM", "END_HEADERS")}
    if isinstance(reference, DataFrame):
        assert (frame.data, frame.flow_controlled_length) == (reference.data, reference.flow_controlled_length)
    elif isinstance(reference, HeadersFrame):
        assert frame.data == reference.data
        assert "PRIORITY" not in reference.flags and "PADDED" not in reference.flags
    elif isinstance(reference, WindowUpdateFrame):
        assert frame.window_increment == reference.window_increment
    else:
        assert isinstance(reference, RstStreamFrame)
        assert frame.error_code == reference.error_code


@pytest.mark.parametrize(
    "frame",
    [
        _raw(0x0, 0x8, 1, b"\x00abc"),  # padded DATA
        _raw(0x1, 0x20 | 0x4, 1, b"\x00\x00\x00\x03\x10\x82"),  # HEADERS with priority
        _raw(0x1, 0x0, 1, b"\x82"),  # HEADERS continued by CONTINUATION
        _raw(0x0, 0x0, 0, b"abc"),  # DATA on stream 0
        _raw(0x3, 0x0, 1, b"\x00\x00\x08"),  # RST_STREAM of 3 bytes
        _raw(0x8, 0x0, 1, b"\x00\x00\x00\x00"),  # WINDOW_UPDATE of 0
        _raw(0x0, 0x0, 1, b"a" * 30),  # over the frame size limit below
        _raw(0x0, 0x0, 1, b"abc", length=10),  # cut by the end of the read
        _raw(0x4, 0x0, 0, b""),  # SETTINGS: h2's
    ],
)
def test_anything_but_the_plainest_form_is_left_to_h2(frame: bytes) -> None:
    assert h2frames.read(frame, 0, 20)[1] is None


@settings(max_examples=300)
@given(st.integers(1, 2**31 - 1), st.binary(max_size=200), st.booleans(), st.sampled_from([16, 50, 16384]))
def test_a_written_header_block_is_parsed_back_whole_by_h2s_frame_buffer(
    stream_id: int, block: bytes, end_stream: bool, max_size: int
) -> None:
    data = h2frames.header_block(stream_id, block, end_stream, max_size)
    buffer = FrameBuffer()
    buffer.max_frame_size = max_size
    buffer.add_data(data)
    frames = list(buffer)
    assert len(frames) == 1 and isinstance(frames[0], HeadersFrame)
    assert frames[0].data == block and frames[0].stream_id == stream_id
    assert ("END_STREAM" in frames[0].flags) == end_stream and "END_HEADERS" in frames[0].flags
    at, pieces = 0, 0
    while at < len(data):  # every frame within the peer's limit; END_STREAM on HEADERS only (RFC 9113 6.10)
        length = int.from_bytes(data[at : at + 3], "big")
        assert length <= max_size
        kind, flags = data[at + 3], data[at + 4]
        assert kind == (h2frames.HEADERS if pieces == 0 else h2frames.CONTINUATION)
        if pieces:
            assert not flags & h2frames.END_STREAM
            assert ContinuationFrame(stream_id).stream_id == stream_id
        at += 9 + length
        pieces += 1
    assert pieces == max(1, -(-len(block) // max_size))


def test_window_update_and_data_heads_are_what_hyperframe_writes() -> None:
    w = WindowUpdateFrame(7)
    w.window_increment = 65535
    assert h2frames.window_update(7, 65535) == w.serialize()
    d = DataFrame(3)
    d.data = b"hello"
    d.flags.add("END_STREAM")
    assert h2frames.head(5, h2frames.DATA, h2frames.END_STREAM, 3) + b"hello" == d.serialize()
