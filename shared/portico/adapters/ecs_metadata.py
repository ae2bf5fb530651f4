"""Reads the ECS task metadata endpoint (v4) for the task id, private IP and availability zone."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from portico.core.untrusted import load_json


@dataclass(frozen=True, slots=True)
class TaskMetadata:
    task_id: str
    address: str
    zone: str


def read_task_metadata(base_uri: str, timeout: float = 2.0) -> TaskMetadata:
    """GET ${ECS_CONTAINER_METADATA_URI_V4}/task. Raises OSError or ValueError when it cannot be read."""
    with urllib.request.urlopen(base_uri.rstrip("/") + "/task", timeout=timeout) as resp:
        task = load_json(resp.read(1 << 20), what="the ECS task metadata")
    return parse_task_metadata(task)


def parse_task_metadata(task: dict[str, object]) -> TaskMetadata:
    arn = str(task.get("TaskARN", ""))
    zone = str(task.get("AvailabilityZone", ""))
    address = ""
    for container in task.get("Containers", []) or []:  # type: ignore[attr-defined]
        for net in container.get("Networks", []) or []:
            ips = net.get("IPv4Addresses") or []
            if ips:
                address = str(ips[0])
                break
        if address:
            break
    if not arn or not address:
        raise ValueError("task metadata has no TaskARN or no IPv4 address")
    return TaskMetadata(task_id=arn.rsplit("/", 1)[-1], address=address, zone=zone)
