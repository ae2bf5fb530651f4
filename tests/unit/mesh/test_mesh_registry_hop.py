"""Registry freshness and label rules; hop-by-hop header stripping."""

from __future__ import annotations

import pytest

from portico.adapters.memory_registry import InMemoryRegistryStore
from portico.core.headers import Headers
from portico.core.mesh.hop import invalid_field, strip_hop_by_hop
from portico.core.mesh.registry import Instance, live, matching, parse_labels


def test_readers_ignore_stale_and_unhealthy_instances() -> None:
    store = InMemoryRegistryStore()
    store.register(Instance("pay", "a", "10.0.0.1", 1, heartbeat=100.0), ttl=60)
    store.register(Instance("pay", "b", "10.0.0.2", 1, heartbeat=80.0), ttl=60)
    store.register(Instance("pay", "c", "10.0.0.3", 1, heartbeat=100.0, health="DRAINING"), ttl=60)
    assert [i.instance_id for i in live(store.instances("pay"), now=105.0, stale_after=15.0)] == ["a"]


def test_subset_matching_needs_every_label() -> None:
    hosts = [Instance("p", "a", "h", 1, labels={"version": "v1", "zone": "a"}), Instance("p", "b", "h", 1)]
    assert [i.instance_id for i in matching(hosts, {"version": "v1"})] == ["a"]


def test_parse_labels() -> None:
    assert parse_labels("version=v1, zone=a") == {"version": "v1", "zone": "a"}
    with pytest.raises(ValueError, match="not key=value"):
        parse_labels("version")


def test_hop_by_hop_and_connection_named_fields_are_dropped() -> None:
    h = Headers([("Connection", "keep-alive, x-secret"), ("X-Secret", "1"), ("TE", "trailers"), ("Accept", "*/*")])
    assert strip_hop_by_hop(h).items() == [("accept", "*/*")]


def test_invalid_header_bytes() -> None:
    assert invalid_field(b"x-a", b"ok") is None
    assert invalid_field(b"x-a", b"bad\x00") is not None
    assert invalid_field(b"x a", b"v") is not None
