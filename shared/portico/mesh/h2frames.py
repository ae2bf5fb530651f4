"""HTTP/2 frames as bytes (RFC 9113 4.1, 6.1-6.10) for the hot path: HEADERS, CONTINUATION, DATA and WINDOW_UPDATE
written, and HEADERS, DATA, RST_STREAM and WINDOW_UPDATE read, without hyperframe's objects.

`read` takes a frame only in the plainest form it can have: anything else (padding, priority, a header block that
CONTINUATION frames continue, a length that breaks the frame's rules, stream 0 where a stream is needed, any other
type) comes back as None, and the connection hands the bytes from there on to h2's own frame buffer, which answers
each case as RFC 9113 requires. What `read` does take is read exactly as hyperframe reads it
(tests/unit/mesh/test_h2_frames.py holds the two together).
"""

from __future__ import annotations

import struct

DATA = 0x0
HEADERS = 0x1
RST_STREAM = 0x3
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9

END_STREAM = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY = 0x20

MAX_WINDOW_INCREMENT = 2**31 - 1
_HEAD = struct.Struct(">HBBBL")  # 24-bit length as 16 + 8 bits, type, flags, R bit + 31-bit stream id


def head(length: int, kind: int, flags: int, stream_id: int) -> bytes:
    """A frame header (4.1)."""
    return _HEAD.pack(length >> 8, length & 0xFF, kind, flags, stream_id)


def header_block(stream_id: int, block: bytes, end_stream: bool, max_size: int) -> bytes:
    """A header block as one HEADERS frame, or HEADERS then CONTINUATION frames of at most `max_size` bytes each
    (6.2, 6.10): END_STREAM on the HEADERS frame, END_HEADERS on the last."""
    flags = END_STREAM if end_stream else 0
    if len(block) <= max_size:
        return head(len(block), HEADERS, flags | END_HEADERS, stream_id) + block
    parts = [head(max_size, HEADERS, flags, stream_id), block[:max_size]]
    at = max_size
    while at < len(block):
        piece = block[at : at + max_size]
        at += len(piece)
        parts.append(head(len(piece), CONTINUATION, END_HEADERS if at >= len(block) else 0, stream_id))
        parts.append(piece)
    return b"".join(parts)


def window_update(stream_id: int, increment: int) -> bytes:
    return head(4, WINDOW_UPDATE, 0, stream_id) + increment.to_bytes(4, "big")


_NO_FLAGS: frozenset[str] = frozenset()
_ENDED = frozenset({"END_STREAM"})
_HEADERS_FLAGS = frozenset({"END_HEADERS"})
_HEADERS_ENDED = frozenset({"END_HEADERS", "END_STREAM"})


class Frame:
    """A received frame with the attributes h2's frame handlers read from hyperframe's (flags by name)."""

    __slots__ = ("data", "error_code", "flags", "flow_controlled_length", "stream_id", "window_increment")

    def __init__(self, stream_id: int, flags: frozenset[str], data: bytes = b"") -> None:
        self.stream_id = stream_id
        self.flags = flags
        self.data = data
        self.flow_controlled_length = len(data)
        self.window_increment = 0
        self.error_code = 0


def read(data: bytes, at: int, max_size: int) -> tuple[int, Frame | None, int]:
    """The frame starting at `at`: (its type, the frame, where the next one starts), with a None frame when the
    frame is incomplete, over `max_size`, or not one `read` takes (see above)."""
    end = at + 9 + ((data[at] << 16) | (data[at + 1] << 8) | data[at + 2])
    kind = data[at + 3]
    if end > len(data) or end - at - 9 > max_size:
        return kind, None, end
    flags = data[at + 4]
    stream_id = int.from_bytes(data[at + 5 : at + 9], "big") & 0x7FFFFFFF
    if kind == DATA:
        if stream_id == 0 or flags & PADDED:
            return kind, None, end
        return kind, Frame(stream_id, _ENDED if flags & END_STREAM else _NO_FLAGS, data[at + 9 : end]), end
    if kind == HEADERS:
        if stream_id == 0 or flags & (PADDED | PRIORITY) or not flags & END_HEADERS:
            return kind, None, end
        return kind, Frame(stream_id, _HEADERS_ENDED if flags & END_STREAM else _HEADERS_FLAGS, data[at + 9 : end]), end
    if kind in (WINDOW_UPDATE, RST_STREAM):
        if end - at != 13 or (kind == RST_STREAM and stream_id == 0):
            return kind, None, end
        value = int.from_bytes(data[at + 9 : end], "big")
        frame = Frame(stream_id, _NO_FLAGS)
        if kind == RST_STREAM:
            frame.error_code = value
        elif 1 <= value <= MAX_WINDOW_INCREMENT:
            frame.window_increment = value
        else:
            return kind, None, end  # 0 or the reserved bit set: hyperframe's PROTOCOL_ERROR
        return kind, frame, end
    return kind, None, end
