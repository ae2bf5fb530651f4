"""`python -m localdev.deploy [--stack-name NAME] [Key=Value ...]`: deploy template.yaml locally."""

from __future__ import annotations

import argparse
import json
import sys

from localdev.deploy.build import BuildError
from localdev.deploy.stack import DeployError, deploy_local
from localdev.deploy.tools import ToolError
from portico.adapters.aws import endpoint_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.deploy", description=__doc__)
    parser.add_argument("--stack-name", default="portico-local")
    parser.add_argument("overrides", nargs="*", metavar="Key=Value", help="template parameter overrides")
    args = parser.parse_args(argv)
    if endpoint_url() is None:
        print(
            "refusing to deploy: point AWS_ENDPOINT_URL (or LOCALSTACK_HOST) at the local endpoint",
            file=sys.stderr,
        )
        return 2
    try:
        overrides = dict(item.split("=", 1) for item in args.overrides)
        result = deploy_local(args.stack_name, parameters=overrides)
    except (ToolError, BuildError, DeployError, ValueError) as error:
        print(f"local deploy failed: {error}", file=sys.stderr)
        return 1
    print(f"{result.stack_name}: {result.status}")
    for line in result.filled:
        print(f"  filled by API: {line}")
    for line in result.unfilled:
        print(f"  NOT filled: {line}")
    print(json.dumps(result.outputs, indent=2, sort_keys=True))
    return 1 if result.unfilled else 0


if __name__ == "__main__":
    sys.exit(main())
