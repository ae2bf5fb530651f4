"""How an opaque TCP stream rides inside the mTLS hop between sidecars: a preamble, then length-prefixed frames.

asyncio's TLS transport cannot half-close (no write_eof; a close_notify ends both directions), so the end of each
direction is said in-band: a frame of length 0. Decision recorded in docs/mesh-protocols.md ("The mesh hop").

    connection  = ALPN "portico-tcp", then PREAMBLE (5 bytes: b"PT", version 1, app port u16), then frames
    frame       = length u32 big-endian (1..MAX_FRAME) + that many bytes | 0x00000000 (this direction ended)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

ALPN: Final = "portico-tcp"
MAGIC: Final = b"PT"
VERSION: Final = 1
PREAMBLE_SIZE: Final = 5
MAX_FRAME: Final = 1 << 20
END: Final = b"\x00\x00\x00\x00"


class FrameError(ValueError):
    """The peer broke the framing: the connection is reset."""


def preamble(port: int) -> bytes:
    return MAGIC + bytes([VERSION]) + port.to_bytes(2, "big")


def parse_preamble(data: bytes) -> int:
    """The app port a stream is for; FrameError for anything that is not a version-1 preamble."""
    if len(data) != PREAMBLE_SIZE or data[:2] != MAGIC or data[2] != VERSION:
        raise FrameError("not a Portico TCP stream preamble")
    port = int.from_bytes(data[3:5], "big")
    if port == 0:
        raise FrameError("the preamble names port 0")
    return port


class FrameDecoder:
    """Feeds frame payloads to `emit` as they arrive (a frame may span reads); True once the end frame came."""

    __slots__ = ("_head", "_left", "ended")

    def __init__(self) -> None:
        self._left = 0
        self._head = b""
        self.ended = False

    def feed(self, data: memoryview, emit: Callable[[memoryview], object]) -> bool:
        at, size = 0, len(data)
        while at < size:
            if self.ended:
                raise FrameError("bytes after the end of the stream")
            left = self._left
            if left:
                take = min(left, size - at)
                emit(data[at : at + take])
                at += take
                self._left = left - take
                continue
            need = 4 - len(self._head)
            self._head += bytes(data[at : at + need])
            at += need
            if len(self._head) < 4:
                break
            length = int.from_bytes(self._head, "big")
            self._head = b""
            if length == 0:
                self.ended = True
            elif length > MAX_FRAME:
                raise FrameError(f"a frame of {length} bytes is over the {MAX_FRAME}-byte limit")
            else:
                self._left = length
        return self.ended
