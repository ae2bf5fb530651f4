"""A stream's body taken whole once it has ended: acknowledged to the sender, and kept for a retry."""

from __future__ import annotations

import asyncio

from portico.mesh.h2body import H2Body, ReplayBody, StreamReset


def test_a_body_is_taken_whole_only_once_it_has_ended_cleanly() -> None:
    acked: list[int] = []
    body = H2Body(acked.append)
    body.feed(b"ab", 2)
    assert body.take_all() is None  # more may come
    body.feed(b"cd", 2)
    body.end()
    assert body.take_all() == b"abcd" and acked == [4]
    assert body.take_all() == b""
    reset = H2Body()
    reset.feed(b"x", 1)
    reset.fail(StreamReset("gone"))
    assert reset.take_all() is None


def test_a_whole_body_is_kept_for_a_retry_within_the_limit_and_not_past_it() -> None:
    source = H2Body()
    source.feed(b"abc", 3)
    source.end()
    replay = ReplayBody(source, limit=10)
    assert replay.whole() == b"abc" and replay.whole() == b"abc" and replay.replayable

    async def streamed() -> list[bytes]:
        return [chunk async for chunk in replay.chunks()]

    assert asyncio.run(streamed()) == [b"abc"]  # a retry that streams gets the same bytes
    big = H2Body()
    big.feed(b"x" * 11, 11)
    big.end()
    over = ReplayBody(big, limit=10)
    assert over.whole() == b"x" * 11 and not over.replayable
