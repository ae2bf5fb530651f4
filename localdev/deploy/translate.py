"""Translates a packaged SAM template to plain CloudFormation with aws-sam-translator (run in the tools venv).

aws-sam-translator pins its own pydantic, so it lives in the tools venv with the SAM CLI, and this file runs
there as a script: `python translate.py IN.json OUT.json [Key=Value ...]`. It imports nothing from portico.
"""

from __future__ import annotations

import json
import sys

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform


def main(argv: list[str]) -> int:
    source, target, *overrides = argv
    with open(source, encoding="utf-8") as handle:
        template = json.load(handle)
    parameters = dict(item.split("=", 1) for item in overrides)
    # The loader asks IAM (the local endpoint, via AWS_ENDPOINT_URL) only if a policy is named, not an ARN.
    loader = ManagedPolicyLoader(boto3.client("iam"))
    try:
        translated = transform(template, parameters, loader)
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(f"SAM translation error: {cause.message}", file=sys.stderr)
        return 2
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(translated, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
