"""Session fixtures for the deploy tests: the tools venv, one `sam build`, one local deploy, one sidecar wheel.

Each slow step runs once per session. A missing tool fails the tests with the command that installs it
(`make tools`, which `make test` runs first): nothing here is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.deploy.build import sam_build
from localdev.deploy.stack import LocalDeployment, deploy_local
from localdev.deploy.tools import REPO, ToolError, tool


@pytest.fixture(scope="session", autouse=True)
def toolchain() -> None:
    """The tools venv must exist; say how to make it rather than skip."""
    try:
        for name in ("sam", "cfn-lint", "checkov", "hadolint", "python"):
            tool(name)
    except ToolError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def arm64_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of template.yaml with its defaults (arm64), once per session; the build directory."""
    build_dir = tmp_path_factory.mktemp("sam-build") / "build"
    try:
        sam_build(REPO / "template.yaml", build_dir, {})
    except ToolError as error:
        pytest.fail(str(error), pytrace=False)
    return build_dir


@pytest.fixture(scope="session")
def local_deployment(local_aws: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """template.yaml deployed into the session's local endpoint under a unique stack name."""
    workdir = tmp_path_factory.mktemp("local-deploy")
    yield deploy_local(f"portico-test-{uuid.uuid4().hex[:8]}", workdir=workdir)


@pytest.fixture(scope="session")
def edge_only_deployment(
    local_deployment: LocalDeployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalDeployment]:
    """The same build deployed again with Mesh=disabled (the edge alone)."""
    workdir = tmp_path_factory.mktemp("edge-only-deploy")
    name = f"portico-edge-{uuid.uuid4().hex[:8]}"
    yield deploy_local(name, workdir=workdir, parameters={"Mesh": "disabled"}, prebuilt=local_deployment.build_dir)
