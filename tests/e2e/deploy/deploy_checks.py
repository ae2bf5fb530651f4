"""The deploy checks as functions that raise AssertionError with the tool's own message, shared by the tests.

The real tests run them on the repository's templates; the negative test runs them on a broken copy, which
shows that a mistake in a template fails the suite with a message naming it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from localdev.deploy import contract
from localdev.deploy.tools import REPO, tool
from localdev.tables import load_template


def run_tool(name: str, *args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [str(tool(name)), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_cfn_lint_clean(*templates: Path) -> None:
    done = run_tool("cfn-lint", *(str(t) for t in templates))
    assert done.returncode == 0, f"cfn-lint found problems:\n{done.stdout}{done.stderr}"


def assert_sam_validate_lint(template: Path) -> None:
    done = run_tool("sam", "validate", "--lint", "--template-file", str(template), "--region", "us-east-1")
    assert done.returncode == 0, f"sam validate --lint failed:\n{done.stdout}{done.stderr}"


def assert_tables_match_code(template: Path) -> None:
    errors = contract.template_errors(load_template(template))
    assert not errors, "template tables differ from what the code uses:\n  " + "\n  ".join(errors)


def assert_checkov_clean(*paths: Path, framework: str) -> str:
    """No failed checks; skips are allowed only as in-template suppressions (checkov prints their reasons)."""
    args = ["--compact", "--skip-download", "--framework", framework, "--output", "cli"]
    for path in paths:
        args += ["-f", str(path)]
    done = run_tool("checkov", *args)
    assert done.returncode == 0 and "Failed checks: 0" in done.stdout, f"checkov failed:\n{done.stdout[-6000:]}"
    return done.stdout


def assert_hadolint_clean(dockerfile: Path) -> None:
    done = run_tool("hadolint", "--no-color", str(dockerfile))
    assert done.returncode == 0, f"hadolint found problems in {dockerfile}:\n{done.stdout}{done.stderr}"
