"""h2fast.FastConnection against plain h2: the same bytes in, the same calls made, give the same events, the same
bytes out, the same errors (with their GOAWAY or RST_STREAM) and the same stream states and windows.

A peer (plain h2, its own checks off so it can send anything) talks to two endpoints at once, h2's own connection
and the fast one, both configured as the sidecar configures them. Hypothesis picks what the peer sends (requests,
responses, bodies, trailers, resets, window updates, and raw frames: padded, prioritised, CONTINUATION-split,
on stream 0, on closed or unknown streams, over the windows, of wrong lengths), how the bytes are cut into reads,
and what the endpoints send back (heads, bodies, trailers, acknowledgements, resets, informational responses).
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portico.mesh import h2frames
from portico.mesh.h2codec import PlainDecoder, StatelessEncoder
from portico.mesh.h2conn import config, connection, local_settings
from portico.mesh.h2fast import FastConnection

_REQUEST = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/x.Y/Z")]
_REQUEST += [(b"content-type", b"application/grpc"), (b"te", b"trailers")]
_RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
_TRAILERS = [(b"grpc-status", b"0")]


def _plain_h2(client_side: bool) -> h2.connection.H2Connection:
    """h2's own connection, set up as h2conn.connection sets up the fast one."""
    conn = h2.connection.H2Connection(config(client_side=client_side))
    conn.encoder = StatelessEncoder()
    decoder = PlainDecoder()
    decoder.max_header_list_size = conn.decoder.max_header_list_size
    decoder.max_allowed_table_size = conn.decoder.max_allowed_table_size
    conn.decoder = decoder
    return conn


def _peer(client_side: bool) -> h2.connection.H2Connection:
    cfg = h2.config.H2Configuration(
        client_side=client_side,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
        normalize_inbound_headers=False,
    )
    return h2.connection.H2Connection(cfg)


def _raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


def _event(event: h2.events.Event) -> str:
    return repr(event)


def _state(conn: h2.connection.H2Connection) -> object:
    streams = {
        sid: (
            s.state_machine.state,
            s.state_machine.stream_closed_by,
            s.state_machine.headers_sent,
            s.state_machine.trailers_sent,
            s.state_machine.headers_received,
            s.state_machine.trailers_received,
            s.outbound_flow_control_window,
            s._inbound_window_manager.current_window_size,
            s._inbound_window_manager._bytes_processed,
            s.request_method,
            s._authority,
            s._actual_content_length,
        )
        for sid, s in conn.streams.items()
    }
    window = conn._inbound_flow_control_window_manager
    return (
        streams,
        dict(conn._closed_streams),
        conn.state_machine.state,
        conn.outbound_flow_control_window,
        window.current_window_size,
        window._bytes_processed,
        conn.highest_inbound_stream_id,
        conn.highest_outbound_stream_id,
    )


def _outcome(call: Any) -> object:
    try:
        result = call()
    except (h2.exceptions.H2Error, ValueError, KeyError, IndexError) as exc:
        return ("raised", type(exc).__name__, getattr(exc, "error_code", None))
    if isinstance(result, list):
        return [_event(e) for e in result]
    return result


class _Pair:
    """The same endpoint twice: h2's (`plain`) and the fast one; every step is made on both and compared."""

    def __init__(self, client_side: bool) -> None:
        self.plain = _plain_h2(client_side)
        self.fast = connection(client_side=client_side)
        assert isinstance(self.fast, FastConnection)
        for conn in (self.plain, self.fast):
            conn.initiate_connection()
            local_settings(conn)

    def both(self, plain_call: Any, fast_call: Any) -> None:
        expected = _outcome(lambda: plain_call(self.plain))
        got = _outcome(lambda: fast_call(self.fast))
        assert got == expected
        assert self.fast.data_to_send() == self.plain.data_to_send()
        assert _state(self.fast) == _state(self.plain)


# what the peer does
_peer_step = st.one_of(
    st.tuples(st.just("open"), st.booleans(), st.integers(0, 3)),  # head (END_STREAM?), body size class
    st.tuples(st.just("data"), st.integers(0, 5), st.integers(0, 70_000), st.booleans()),
    st.tuples(st.just("trailers"), st.integers(0, 5)),
    st.tuples(st.just("reset"), st.integers(0, 5), st.integers(0, 13)),
    st.tuples(st.just("window"), st.integers(0, 5), st.integers(1, 2**31 - 1)),
    st.tuples(
        st.just("raw"),
        st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x4, 0x6, 0x8, 0x9, 0xA]),
        st.integers(0, 255),
        st.sampled_from([0, 1, 2, 3, 5, 7, 9, 101, 0x80000001]),
        st.one_of(st.binary(max_size=12), st.sampled_from([b"", b"\x00\x00\x00\x01", b"\x80\x00\x00\x00"])),
    ),
    st.tuples(st.just("split-head"), st.integers(1, 8)),  # HEADERS + CONTINUATION
    st.tuples(st.just("deliver"), st.lists(st.integers(0, 2000), max_size=3)),
)
# what the endpoint under test does
_own_step = st.one_of(
    st.tuples(st.just("head"), st.integers(0, 5), st.booleans(), st.booleans()),  # stream, end, informational
    st.tuples(st.just("body"), st.integers(0, 5), st.integers(0, 70_000), st.booleans()),
    st.tuples(st.just("end"), st.integers(0, 5)),
    st.tuples(st.just("trailers"), st.integers(0, 5)),
    st.tuples(st.just("ack"), st.integers(0, 5), st.integers(0, 100_000)),
    st.tuples(st.just("reset"), st.integers(0, 5)),
)


def _sid(ids: list[int], i: int) -> int:
    return ids[i % len(ids)] if ids else 1 + 2 * i


def _run(server_side: bool, steps: list[tuple[Any, ...]]) -> None:
    pair = _Pair(client_side=not server_side)
    peer = _peer(client_side=server_side)
    peer.initiate_connection()
    peer.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**20})
    pending = bytearray(peer.data_to_send())
    ids: list[int] = []  # streams opened by either side

    def deliver(cuts: list[int]) -> None:
        data = bytes(pending)
        pending.clear()
        points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
        for a, b in itertools.pairwise(points):
            chunk = data[a:b]
            pair.both(lambda c: c.receive_data(chunk), lambda c: c.receive_data(chunk))  # noqa: B023
        with contextlib.suppress(h2.exceptions.ProtocolError):  # a GOAWAY may end the peer: it then writes raw frames
            peer.receive_data(bytes(pair.fast.data_to_send()))
        pending.extend(_safe(peer.data_to_send))

    for step in steps:
        if step[0] == "own":
            _own(pair, ids, step, server_side)
        elif step[0] == "deliver":
            pending.extend(_safe(peer.data_to_send))
            deliver(step[1])
        else:
            _send(peer, ids, step, server_side, pending)
    pending.extend(_safe(peer.data_to_send))
    deliver([])


def _send(
    peer: h2.connection.H2Connection, ids: list[int], step: tuple[Any, ...], server_side: bool, out: bytearray
) -> None:
    """One step of the peer's: through h2 where h2 lets it, else as raw frames."""
    kind = step[0]
    if kind == "open":
        if server_side:
            sid = peer.get_next_available_stream_id()
            if _safe(lambda: peer.send_headers(sid, _REQUEST, end_stream=step[1])) is not None:
                ids.append(sid)
        elif ids:
            _safe(lambda: peer.send_headers(_sid(ids, step[2]), _RESPONSE, end_stream=step[1]))
    elif kind == "data":
        sid = _sid(ids, step[1])
        size = min(step[2], _safe(lambda: peer.local_flow_control_window(sid)) or 0, 16384)
        _safe(lambda: peer.send_data(sid, b"d" * size, end_stream=step[3]))
    elif kind == "trailers":
        _safe(lambda: peer.send_headers(_sid(ids, step[1]), _TRAILERS, end_stream=True))
    elif kind == "reset":
        _safe(lambda: peer.reset_stream(_sid(ids, step[1]), step[2]))
    elif kind == "window":
        window_of = None if step[1] == 0 else _sid(ids, step[1])  # 0: the connection's window
        _safe(lambda: peer.increment_flow_control_window(step[2], window_of))
    elif kind == "raw":
        out.extend(peer.data_to_send())
        out.extend(_raw(step[1], step[2], step[3], step[4]))
    else:  # a header block split into HEADERS + CONTINUATION
        out.extend(peer.data_to_send())
        block = StatelessEncoder().encode(_REQUEST if server_side else _RESPONSE)
        sid = 1001 + 2 * step[1] if server_side else _sid(ids, step[1])
        cut = min(step[1], len(block))
        out.extend(_raw(0x1, 0x0, sid, block[:cut]) + _raw(0x9, 0x4, sid, block[cut:]))


def _safe(call: Any) -> Any:
    try:
        return call()
    except (h2.exceptions.H2Error, ValueError, KeyError, IndexError):
        return None


def _own(pair: _Pair, ids: list[int], step: tuple[Any, ...], server_side: bool) -> None:
    kind = step[1]
    if kind == "head":
        informational = step[4] and server_side
        if server_side:
            sid = _sid(ids, step[2])
            fields = [(b":status", b"103")] if informational else _RESPONSE
        else:
            sid = pair.plain.get_next_available_stream_id() if step[2] % 2 else _sid(ids, step[2])
            fields = _REQUEST
            if sid not in ids:
                ids.append(sid)
        pair.both(
            lambda c: c.send_headers(sid, fields, end_stream=step[3]),
            lambda c: c.send_fields(sid, fields, end_stream=step[3]),
        )
    elif kind == "body":
        sid = _sid(ids, step[2])
        data = b"b" * step[3]
        pair.both(
            lambda c: c.send_data(sid, data, end_stream=step[4]), lambda c: c.send_body(sid, data, end_stream=step[4])
        )
    elif kind == "end":
        sid = _sid(ids, step[2])
        pair.both(lambda c: c.end_stream(sid), lambda c: c.end_body(sid))
    elif kind == "trailers":
        sid = _sid(ids, step[2])
        pair.both(
            lambda c: c.send_headers(sid, _TRAILERS, end_stream=True),
            lambda c: c.send_fields(sid, _TRAILERS, end_stream=True),
        )
    elif kind == "ack":
        sid = _sid(ids, step[2])
        pair.both(
            lambda c: c.acknowledge_received_data(step[3], sid),
            lambda c: c.acknowledge_received_data(step[3], sid),
        )
    else:
        sid = _sid(ids, step[2])
        pair.both(lambda c: c.reset_stream(sid), lambda c: c.reset_stream(sid))


_step = st.one_of(_peer_step, _own_step.map(lambda s: ("own", *s)))


@pytest.mark.parametrize("server_side", [True, False], ids=["server", "client"])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_step, max_size=30))
def test_the_fast_connection_behaves_as_h2s_own(server_side: bool, steps: list[tuple[Any, ...]]) -> None:
    _run(server_side, steps)


def test_a_plain_unary_exchange_takes_the_short_way_both_ways() -> None:
    """The common case really is read and written without hyperframe's frame objects (the comparison above would
    pass just as well if every frame went h2's way)."""
    client, server = connection(client_side=True), connection(client_side=False)
    for conn in (client, server):
        conn.initiate_connection()
        local_settings(conn)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())  # the settings acknowledgements: h2's frame buffer is empty again
    client.receive_data(server.data_to_send())
    slow: list[object] = []
    for conn in (client, server):
        conn._receive_frame = slow.append  # type: ignore[method-assign]
    client.send_fields(1, _REQUEST)
    client.send_body(1, b"\x00\x00\x00\x00\x01x", end_stream=True)
    events = server.receive_data(client.data_to_send())
    assert [type(e) for e in events] == [h2.events.RequestReceived, h2.events.DataReceived, h2.events.StreamEnded]
    server.acknowledge_received_data(6, 1)
    server.send_fields(1, _RESPONSE)
    server.send_body(1, b"\x00\x00\x00\x00\x01y")
    server.send_fields(1, _TRAILERS, end_stream=True)
    events = client.receive_data(server.data_to_send())
    assert [type(e) for e in events] == [
        h2.events.ResponseReceived,
        h2.events.DataReceived,
        h2.events.TrailersReceived,
        h2.events.StreamEnded,
    ]
    assert slow == []
    assert h2frames.read(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", 0, 16384)[1] is None  # SETTINGS stays h2's
