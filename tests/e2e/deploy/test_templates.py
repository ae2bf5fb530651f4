"""template.yaml and infra/ pass AWS's own linters, checkov and hadolint, and agree with the code's tables."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from deploy_checks import (
    assert_cfn_lint_clean,
    assert_checkov_clean,
    assert_hadolint_clean,
    assert_sam_validate_lint,
    assert_tables_match_code,
)

from localdev.deploy.tools import REPO

TEMPLATES = [REPO / "template.yaml", *sorted((REPO / "infra").glob("*.yaml"))]
DOCKERFILE = REPO / "infra" / "sidecar" / "Dockerfile"
DEBIAN_DOCKERFILE = REPO / "infra" / "sidecar" / "Dockerfile.debian"


def test_cfn_lint_is_clean_on_every_template() -> None:
    assert {t.name for t in TEMPLATES} >= {"template.yaml", "mesh.yaml"}
    assert_cfn_lint_clean(*TEMPLATES)


def test_sam_validate_lint_passes() -> None:
    assert_sam_validate_lint(REPO / "template.yaml")


def test_template_tables_have_the_keys_the_code_uses() -> None:
    assert_tables_match_code(REPO / "template.yaml")


def test_checkov_passes_with_only_reasoned_in_template_suppressions() -> None:
    report = assert_checkov_clean(*TEMPLATES, framework="cloudformation")
    skipped = report.count("SKIPPED for resource")
    reasons = re.findall(r"Suppress comment: (.+)", report)
    # Every suppression lives in a template's Metadata with a reason; none comes from the command line.
    assert skipped == len(reasons) and all(len(reason) > 20 for reason in reasons), report


@pytest.mark.parametrize("recipe", [DOCKERFILE, DEBIAN_DOCKERFILE], ids=lambda p: p.name)
def test_checkov_passes_on_the_sidecar_recipes(recipe: Path) -> None:
    assert_checkov_clean(recipe, framework="dockerfile")


@pytest.mark.parametrize("recipe", [DOCKERFILE, DEBIAN_DOCKERFILE], ids=lambda p: p.name)
def test_hadolint_is_clean_on_the_sidecar_recipes(recipe: Path) -> None:
    assert_hadolint_clean(recipe)


def _runtime_lines(recipe: Path) -> dict[str, str]:
    """The last stage's instructions that decide how the image runs, joined across continuation lines."""
    text = recipe.read_text().split("\nFROM ")[-1].replace("\\\n", " ")
    wanted = ("USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD")
    return {
        line.split()[0]: " ".join(line.split()[1:])
        for line in text.splitlines()
        if line.split()[:1] and line.split()[0] in wanted
    }


def test_both_sidecar_recipes_run_the_image_the_same_way() -> None:
    docker, debian = _runtime_lines(DOCKERFILE), _runtime_lines(DEBIAN_DOCKERFILE)
    assert set(docker) == {"USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD"}
    assert docker == debian


def test_layer_requirements_follow_the_package_dependencies() -> None:
    """The layer installs shared/requirements.txt; it must list pyproject's dependencies (boto3 from the runtime)."""
    name = re.compile(r"^[A-Za-z0-9_.-]+")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    # boto3 comes with the Lambda runtime; typer and rich serve only the `portico` CLI, which the layer never runs
    wanted = {name.match(d).group(0).lower() for d in project} - {"boto3", "typer", "rich"}  # type: ignore[union-attr]
    lines = (REPO / "shared" / "requirements.txt").read_text().splitlines()
    listed = {name.match(line).group(0).lower() for line in lines if line.strip() and not line.startswith("#")}  # type: ignore[union-attr]
    assert listed == wanted
