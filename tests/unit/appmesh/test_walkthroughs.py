"""Acceptance 1 and 4 over every App Mesh file AWS wrote for its walkthroughs (../shared/appmesh-examples)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.report import leaves, pattern
from portico.core.appmesh.translate import render
from tests.unit.appmesh.support import EXAMPLES, assert_valid, import_files, resources

WALKTHROUGHS = EXAMPLES / "walkthroughs"
FILES = (
    sorted(p for p in WALKTHROUGHS.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    if WALKTHROUGHS.exists()
    else []
)
NOT_APP_MESH = {"howto-k8s-multi-region/envoy-iam-policy.json"}  # an IAM policy document beside the mesh files

pytestmark = pytest.mark.skipif(not FILES, reason=f"AWS App Mesh examples not found at {EXAMPLES}")


def _rel(path: Path) -> str:
    return str(path.relative_to(WALKTHROUGHS))


def _with_context(path: Path) -> list[Path]:
    """The file's walkthrough, as its scripts create it, with this file applied last (an update wins)."""
    walkthrough = WALKTHROUGHS / path.relative_to(WALKTHROUGHS).parts[0]
    others = [p for p in FILES if p.is_relative_to(walkthrough) and p != path and _rel(p) not in NOT_APP_MESH]
    return [*others, path]


def test_the_folder_is_all_there() -> None:
    assert len(FILES) >= 140


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_every_file_imports_validates_and_reports_every_field(path: Path) -> None:
    if _rel(path) in NOT_APP_MESH:
        with pytest.raises(ImportFailure, match="not an App Mesh definition"):
            import_files([path])
        return
    paths = _with_context(path)
    result = import_files(paths)
    assert_valid(result)
    # every field of every resource that took effect has its line in the report: mapped, or why not
    reported = {(e.file, e.resource, e.field) for e in result.report.entries}
    effective = {(r.kind, r.parent or "", r.name): r for r in resources(paths)}
    for res in effective.values():
        for leaf in leaves(res.spec, "spec"):
            assert (res.file, res.label, pattern(leaf)) in reported, (res.label, leaf)
    # acceptance 4: the same input gives byte-identical output
    assert render(import_files(paths)) == render(result)


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_every_file_alone_imports_or_names_what_it_refers_to(path: Path) -> None:
    """Alone, a route update names a router created by another file: a clear error, never a crash."""
    try:
        assert_valid(import_files([path]))
    except ImportFailure as exc:
        assert exc.file == str(path)
        assert "which is not in the input" in exc.message or _rel(path) in NOT_APP_MESH, exc


def test_grpc_walkthrough_imports_and_the_report_says_grpc_needs_the_protocols_issue() -> None:
    walkthrough = WALKTHROUGHS / "howto-grpc"
    result = import_files(
        [walkthrough / "mesh.yaml", walkthrough / "mesh" / "route-retries.json"], {"ProjectName": "grpc"}
    )
    (vs,) = [d for d in result.documents if d["kind"] == "VirtualService"]
    assert vs["spec"]["hosts"] == ["color_server.grpc.local"]
    assert vs["spec"]["http"][0]["match"] == [{"uri": {"prefix": "/color.ColorService/"}}]
    grpc = [e for e in result.report.entries if e.field.startswith("spec.grpcRoute.")]
    assert grpc and all(e.status in ("partial", "unmapped", "default") for e in grpc)
    assert any("mesh protocols issue is still open" in e.why for e in grpc if e.status == "partial")


def test_fargate_weights_two_to_one_become_67_33() -> None:
    result = import_files([WALKTHROUGHS / "fargate" / "appmesh-colorapp.yaml"], {"ServicesDomain": "demo.local"})
    vs = next(
        d
        for d in result.documents
        if d["kind"] == "VirtualService" and d["spec"]["hosts"] == ["colorteller.demo.local"]
    )
    weights = {r["destination"]["subset"]: r["weight"] for r in vs["spec"]["http"][0]["route"]}
    assert weights == {"colorteller-blue-vn": 67, "colorteller-green-vn": 33}


def test_file_certificates_of_the_mutual_tls_walkthrough_become_sidecar_settings() -> None:
    mesh = WALKTHROUGHS / "howto-mutual-tls-file-provided" / "mesh"
    result = import_files([mesh / "colorteller-vn.json", mesh / "updates" / "colorteller-vn-strict-validation.json"])
    (node,) = [s.as_dict() for s in result.sidecars if s.node == "colorteller-vn-strict-validation"]
    assert node["env"] == {
        "PORTICO_CERT_SOURCE": "file",
        "PORTICO_TLS_CERT_FILE": "/keys/colorteller_cert_chain.pem",
        "PORTICO_TLS_KEY_FILE": "/keys/colorteller_key.pem",
        "PORTICO_TLS_BUNDLE_FILE": "/keys/ca_cert.pem",
    }
