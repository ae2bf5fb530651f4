"""Sidecar settings from flags and PORTICO_* variables; ECS task metadata parsing."""

from __future__ import annotations

import pytest

from portico.adapters.ecs_metadata import parse_task_metadata
from portico.mesh.settings import resolve


def test_flags_win_over_environment_and_defaults_follow_the_design() -> None:
    env = {"PORTICO_SERVICE": "pay", "PORTICO_APP_PORT": "8080", "PORTICO_ADMIN_PORT": "16000"}
    s = resolve(service=None, app_port=None, admin_port=17000, env=env)
    assert (s.service, s.app_port, s.admin_port) == ("pay", 8080, 17000)
    assert (s.inbound_port, s.outbound_port) == (15443, 15001)
    assert resolve(service="pay", app_port=1, env=env).admin_port == 16000


def test_missing_or_bad_values_are_named() -> None:
    with pytest.raises(ValueError, match="--service"):
        resolve(service=None, app_port=1, env={})
    with pytest.raises(ValueError, match="PORTICO_INBOUND_PORT"):
        resolve(service="a", app_port=1, env={"PORTICO_INBOUND_PORT": "x"})


def test_task_metadata_gives_task_id_address_and_zone() -> None:
    task = {
        "TaskARN": "arn:aws:ecs:eu-west-1:123456789012:task/cluster/0b69d5c0d655438b9b2f5a6d7b0b2a1c",
        "AvailabilityZone": "eu-west-1b",
        "Containers": [{"Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.106"]}]}],
    }
    meta = parse_task_metadata(task)
    assert (meta.task_id, meta.address, meta.zone) == ("0b69d5c0d655438b9b2f5a6d7b0b2a1c", "10.0.2.106", "eu-west-1b")
    with pytest.raises(ValueError):
        parse_task_metadata({"TaskARN": "x", "Containers": []})


def test_weight_defaults_to_one_and_zero_drains() -> None:
    assert resolve(service="a", app_port=1, env={}).weight == 1
    assert resolve(service="a", app_port=1, env={"PORTICO_WEIGHT": "0"}).weight == 0
    assert resolve(service="a", app_port=1, env={"PORTICO_WEIGHT": "5"}).weight == 5
    with pytest.raises(ValueError, match="PORTICO_WEIGHT"):
        resolve(service="a", app_port=1, env={"PORTICO_WEIGHT": "-1"})


def test_listener_limits_and_underscore_action_from_the_environment() -> None:
    env = {
        "PORTICO_REQUEST_HEADERS_TIMEOUT": "2.5",
        "PORTICO_MAX_CONNECTIONS": "64",
        "PORTICO_TLS_HANDSHAKE_TIMEOUT": "3",
        "PORTICO_HEADERS_WITH_UNDERSCORES": "reject",
    }
    s = resolve(service="a", app_port=1, env=env)
    assert (s.limits.header_timeout, s.limits.max_connections, s.limits.tls_handshake_timeout) == (2.5, 64, 3.0)
    assert s.underscores == "reject"
    defaults = resolve(service="a", app_port=1, env={})
    assert (defaults.limits.header_timeout, defaults.limits.max_connections) == (10.0, 4096)
    assert defaults.underscores == "drop"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORTICO_REQUEST_HEADERS_TIMEOUT", "0"),
        ("PORTICO_REQUEST_HEADERS_TIMEOUT", "soon"),
        ("PORTICO_MAX_CONNECTIONS", "1.5"),
        ("PORTICO_MAX_CONNECTIONS", "-1"),
        ("PORTICO_HEADERS_WITH_UNDERSCORES", "ignore"),
    ],
)
def test_bad_listener_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        resolve(service="a", app_port=1, env={name: value})
