"""h2's connection with a short way for the frames of a plain call: HEADERS, DATA, WINDOW_UPDATE and RST_STREAM read
from and written to bytes directly, every state change still made by h2's own state machines and window managers.

Profiled under load, half of the sidecar's CPU was h2, and most of that was building, parsing and serialising
hyperframe objects and the generators around them, not the protocol's rules. The short way skips only those:

- **Reading.** `receive_data` reads each frame's header itself (`h2frames.read`). A frame it takes becomes a light
  object with the attributes h2's handler for that type reads (`_receive_headers_frame`, `_receive_data_frame`, ...),
  and goes to that handler, with `_receive_frame`'s stream-error handling. At the first frame it does not take
  (any other type, padding, priority, a header block continued by CONTINUATION, a frame too large, stream 0 where
  a stream is needed, a frame cut by the end of the read) the rest of the bytes go to h2's own `receive_data`, as do
  all bytes while h2's frame buffer holds any (the client preface, part of a frame, an unfinished header block). So
  every error is answered by h2, with its GOAWAY or RST_STREAM.
- **Writing.** `send_fields`, `send_body`, `end_body` and `acknowledge_received_data` take the steps of h2's
  `send_headers`, `send_data`, `end_stream` and `acknowledge_received_data`, in h2's order and with h2's checks and
  state machine inputs, and append the frames as bytes. Whatever they do not cover (priority, padding, an
  informational response, data over a window or the frame size, an unknown stream) is h2's own call.

The members below copied from h2 are from the pinned 4.3.0 (localdev/constraints.txt); tests/unit/mesh/test_h2_codec.py
fails when the pin moves, and tests/unit/mesh/test_h2_fast.py holds the short way to plain h2's events, bytes and
verdicts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from h2.connection import AllowedStreamIDs, ConnectionInputs
from h2.stream import STREAM_OPEN, H2Stream, StreamInputs, StreamState
from h2.utilities import authority_from_headers, extract_method_header
from hyperframe.frame import DataFrame, Frame, HeadersFrame, RstStreamFrame, WindowUpdateFrame

from portico.mesh import h2frames
from portico.mesh.h2frames import DATA, END_STREAM, HEADERS, RST_STREAM, WINDOW_UPDATE

Fields = list[tuple[bytes, bytes]]
_Handler = Callable[[Any], tuple[list[Frame], list[h2.events.Event]]]


class FastStream(H2Stream):
    """h2's stream, less the header validation flags it builds for every block: they are read only when h2
    normalises or validates header fields itself, which the sidecar's configuration turns off (h2conn.config)."""

    def _build_hdr_validation_flags(self, events: Any) -> Any:
        config = self.config
        if (
            config.validate_inbound_headers
            or config.normalize_inbound_headers
            or config.validate_outbound_headers
            or config.normalize_outbound_headers
        ):
            return super()._build_hdr_validation_flags(events)
        return None


class FastConnection(h2.connection.H2Connection):
    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config)
        table = self._frame_dispatch_table
        self._short_handlers: dict[int, _Handler] = {
            DATA: table[DataFrame],
            HEADERS: table[HeadersFrame],
            RST_STREAM: table[RstStreamFrame],
            WINDOW_UPDATE: table[WindowUpdateFrame],
        }

    # --- reading
    def receive_data(self, data: bytes) -> list[h2.events.Event]:
        buffered = self.incoming_buffer
        if buffered._preamble_len or buffered._data or buffered._headers_buffer:
            return super().receive_data(data)
        events: list[h2.events.Event] = []
        handlers = self._short_handlers
        limit = self.max_inbound_frame_size
        at = 0
        end = len(data)
        try:
            while end - at >= 9:
                kind, frame, stop = h2frames.read(data, at, limit)
                if frame is None:
                    break
                events.extend(self._dispatch(handlers[kind], frame))
                at = stop
        except h2.exceptions.ProtocolError as e:  # as h2's receive_data answers its handlers' errors
            buffered._data += data[stop:]  # and keeps what followed the frame, as h2's buffer holds it
            self._terminate_connection(e.error_code)
            raise
        if at < end:
            events.extend(super().receive_data(data[at:] if at else data))
        return events

    def _receive_frame(self, frame: Frame) -> list[h2.events.Event]:
        return self._dispatch(self._frame_dispatch_table[frame.__class__], frame)

    def _dispatch(self, handler: _Handler, frame: Any) -> list[h2.events.Event]:
        """h2's `_receive_frame` (4.3.0) for a frame whose handler is known, without the `repr(frame)` it formatted
        for a trace log line on every frame (serialising the frame's body again) whether or not anything logs."""
        events: list[h2.events.Event]
        try:
            frames, events = handler(frame)
        except h2.exceptions.StreamClosedError as e:
            if self._stream_is_closed_by_reset(e.stream_id):  # closed by RST_STREAM: a stream error
                f = RstStreamFrame(e.stream_id)
                f.error_code = e.error_code
                self._prepare_for_sending([f])
                events = e._events
            else:
                raise
        except h2.exceptions.StreamIDTooLowError as e:
            if self._stream_is_closed_by_reset(e.stream_id):
                f = RstStreamFrame(e.stream_id)
                f.error_code = h2.errors.ErrorCodes.STREAM_CLOSED
                self._prepare_for_sending([f])
                events = []
            elif self._stream_is_closed_by_end(e.stream_id):  # closed by END_STREAM: a connection error
                raise h2.exceptions.StreamClosedError(e.stream_id) from e
            else:
                raise
        else:
            self._prepare_for_sending(frames)
        return events

    # --- writing
    def send_fields(self, stream_id: int, fields: Fields, end_stream: bool = False) -> None:
        """h2's `send_headers` for fields already as bytes, without priority."""
        stream = self.streams.get(stream_id)
        if stream is None:
            max_open_streams = self.remote_settings.max_concurrent_streams
            value = self.open_outbound_streams
            if value + 1 > max_open_streams:
                raise h2.exceptions.TooManyStreamsError(f"Max outbound streams is {max_open_streams}, {value} open")
        if (stream is None or not stream.state_machine.client) and _informational(fields):
            self.send_headers(stream_id, fields, end_stream)  # h2's own checks and inputs for a 1xx
            return
        self.state_machine.process_input(ConnectionInputs.SEND_HEADERS)
        if stream is None:
            stream = self._begin_new_stream(stream_id, AllowedStreamIDs(self.config.client_side))
        machine = stream.state_machine
        machine.process_input(StreamInputs.SEND_HEADERS)
        block = self.encoder.encode(fields)
        if end_stream:
            machine.process_input(StreamInputs.SEND_END_STREAM)
        if machine.trailers_sent and not end_stream:
            raise h2.exceptions.ProtocolError("Trailers must have END_STREAM set.")
        if machine.client and stream._authority is None:
            stream._authority = authority_from_headers(fields)
        stream.request_method = extract_method_header(fields)
        size = stream.max_outbound_frame_size or self.max_outbound_frame_size
        self._data_to_send.extend(h2frames.header_block(stream_id, block, end_stream, size))

    def send_body(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """h2's `send_data` without padding."""
        stream = self.streams.get(stream_id)
        size = len(data)
        if (
            stream is None
            or size > self.outbound_flow_control_window
            or size > stream.outbound_flow_control_window
            or size > self.max_outbound_frame_size
        ):
            self.send_data(stream_id, data, end_stream)  # h2 raises what it raises
            return
        self.state_machine.process_input(ConnectionInputs.SEND_DATA)
        machine = stream.state_machine
        machine.process_input(StreamInputs.SEND_DATA)
        if end_stream:
            machine.process_input(StreamInputs.SEND_END_STREAM)
        stream.outbound_flow_control_window -= size
        self.outbound_flow_control_window = self.outbound_flow_control_window - size  # not -=: mypyc (docs/native.md)
        out = self._data_to_send
        out += h2frames.head(size, DATA, END_STREAM if end_stream else 0, stream_id)
        out += data

    def end_body(self, stream_id: int) -> None:
        """h2's `end_stream`: an empty DATA frame with END_STREAM."""
        self.state_machine.process_input(ConnectionInputs.SEND_DATA)
        self.streams[stream_id].state_machine.process_input(StreamInputs.SEND_END_STREAM)
        self._data_to_send.extend(h2frames.head(0, DATA, END_STREAM, stream_id))

    def acknowledge_received_data(self, acknowledged_size: int, stream_id: int) -> None:
        """h2's own (4.3.0), with its WINDOW_UPDATE frames written as bytes."""
        if stream_id <= 0:
            raise ValueError(f"Stream ID {stream_id} is not valid for acknowledge_received_data")
        if acknowledged_size < 0:
            raise ValueError("Cannot acknowledge negative data")
        conn_increment = self._inbound_flow_control_window_manager.process_bytes(acknowledged_size)
        stream_increment = None
        stream = self.streams.get(stream_id)
        if stream is None:
            with contextlib.suppress(h2.exceptions.StreamClosedError):  # gone: only the connection's window
                self._get_stream_by_id(stream_id)  # NoSuchStreamError above the highest id, nothing sent, as in h2
        elif STREAM_OPEN[stream.state_machine.state]:  # no point incrementing a closed stream's window
            stream_increment = stream._inbound_window_manager.process_bytes(acknowledged_size)
        if conn_increment:
            self._data_to_send.extend(h2frames.window_update(0, conn_increment))
        if stream_increment:
            self._data_to_send.extend(h2frames.window_update(stream_id, stream_increment))

    # --- streams
    def _begin_new_stream(self, stream_id: int, allowed_ids: AllowedStreamIDs) -> H2Stream:
        """h2's own (4.3.0) without its three debug log calls, making a FastStream."""
        outbound = self._stream_id_is_outbound(stream_id)
        highest_stream_id = self.highest_outbound_stream_id if outbound else self.highest_inbound_stream_id
        if stream_id <= highest_stream_id:
            raise h2.exceptions.StreamIDTooLowError(stream_id, highest_stream_id)
        if (stream_id % 2) != int(allowed_ids):
            raise h2.exceptions.ProtocolError("Invalid stream ID for peer.")
        s = FastStream(
            stream_id,
            config=self.config,
            inbound_window_size=self.local_settings.initial_window_size,
            outbound_window_size=self.remote_settings.initial_window_size,
        )
        s.max_outbound_frame_size = self.max_outbound_frame_size
        self.streams[stream_id] = s
        if outbound:
            self.highest_outbound_stream_id = stream_id
        else:
            self.highest_inbound_stream_id = stream_id
        return s

    def _open_streams(self, remainder: int) -> int:
        """h2's count of open streams of one parity (and its sweep of closed ones), run on every new stream: the
        same loop reading the state once, not through two properties per stream."""
        count = 0
        swept = []
        closed = StreamState.CLOSED
        for stream_id, stream in self.streams.items():
            state = stream.state_machine.state
            if state is closed:
                swept.append(stream_id)
            elif STREAM_OPEN[state] and stream_id % 2 == remainder:
                count += 1
        for stream_id in swept:
            self._closed_streams[stream_id] = self.streams.pop(stream_id).closed_by
        return count


def _informational(fields: Fields) -> bool:
    """h2's `is_informational_response`: a `:status` of 1xx among the leading pseudo-header fields."""
    for name, value in fields:
        if not name.startswith(b":"):
            return False
        if name == b":status":
            return value.startswith(b"1")
    return False
