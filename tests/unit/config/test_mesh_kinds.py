"""The sidecar's config load: only the mesh kinds are validated and kept; edge documents are not its business."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from portico.core.config.mesh_documents import MESH_KINDS
from portico.core.config.snapshot import load_snapshot
from portico.core.ports import Snapshot, StoredDocument

FIXTURES = Path(__file__).parents[2] / "fixtures" / "config"
REPO = Path(__file__).parents[3]


def _snapshot(*extra: dict[str, object]) -> Snapshot:
    raws = [d for d in yaml.safe_load_all((FIXTURES / "valid-all.yaml").read_text()) if d]
    loopback_route = {
        "apiVersion": "portico/v1",
        "kind": "Route",
        "metadata": {"name": "local"},
        "spec": {
            "match": {"host": "a.example.com", "path": "/x"},
            "auth": {"none": {}},
            "upstream": {"http": {"url": "http://127.0.0.1/"}},
        },
    }
    docs = [*raws, loopback_route, *extra]
    return Snapshot(7, [StoredDocument(str(d["kind"]), str(d["metadata"]["name"]), d) for d in docs])  # type: ignore[index]


def test_the_edge_sees_the_loopback_route_as_invalid(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "portico.config"):
        loaded = load_snapshot(_snapshot())
    assert [f"{s.kind}/{s.name}" for s in loaded.skipped] == ["Route/local"]
    assert "loopback" in loaded.skipped[0].reason
    assert "Route/local" in caplog.text


def test_a_sidecar_load_keeps_the_mesh_kinds_and_reports_nothing_about_routes(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "portico.config"):
        loaded = load_snapshot(_snapshot(), kinds=MESH_KINDS)
    assert loaded.skipped == () and caplog.text == ""
    assert {d.kind for d in loaded.config.documents()} == {"VirtualService", "DestinationRule", "AuthorizationPolicy"}
    assert loaded.config.routes == {} and loaded.config.issuers == {} and loaded.config.consumers == {}


def test_a_sidecar_load_still_reports_a_bad_mesh_document(caplog: pytest.LogCaptureFixture) -> None:
    bad = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "bad"}}
    wrong_version = {"apiVersion": "portico/v2", "kind": "VirtualService", "metadata": {"name": "v2"}, "spec": {}}
    with caplog.at_level(logging.ERROR, "portico.config"):
        loaded = load_snapshot(_snapshot(bad, wrong_version), kinds=MESH_KINDS)
    assert [f"{s.kind}/{s.name}" for s in loaded.skipped] == ["DestinationRule/bad", "VirtualService/v2"]
    assert "is not accepted for VirtualService; use networking.istio.io/v1alpha3" in loaded.skipped[1].reason
    assert "DestinationRule/bad" in caplog.text and "Route" not in caplog.text


def test_loading_the_mesh_kinds_imports_none_of_the_edge_models() -> None:
    code = (
        "import sys; from portico.core.config.mesh_documents import MESH_KINDS;"
        "from portico.core.config.refresh import ConfigCache; from portico.mesh.sidecar import Sidecar;"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('portico.core.config.', 'jmespath')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO / "shared")},
    )
    loaded = set(out.stdout.split())
    assert "portico.core.config.mesh_documents" in loaded
    edge = {"route", "identity", "ratelimit", "upstream", "grpc", "documents", "compose"}
    assert not {m for m in loaded if m.rsplit(".", 1)[-1] in edge}, loaded
    assert not {m for m in loaded if m.startswith("jmespath")}, loaded  # the edge's transforms
