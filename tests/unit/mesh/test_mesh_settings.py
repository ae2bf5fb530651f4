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
