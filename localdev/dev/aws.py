"""Dev component: an AWS endpoint (LocalStack or an earlier run if one answers, else the embedded one) and tables."""

from __future__ import annotations

import os
import sys

from localdev.aws import DEFAULT_HOST, DEFAULT_PORT, endpoint_answers, local_env
from localdev.dev.run import DevRun


def start(run: DevRun) -> None:
    url = run.env.get("AWS_ENDPOINT_URL") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    # Dummy credentials only: a user's real keys or profile must never be sent to a local endpoint.
    run.env = {**local_env(url, run.env), **{k: v for k, v in run.env.items() if k.startswith("PORTICO_")}}
    if endpoint_answers(url):
        run.facts["aws"] = f"{url} (already answering: reused, left running at the end)"
    else:
        port = url.rsplit(":", 1)[-1].rstrip("/")
        argv = [sys.executable, "-m", "localdev.aws", "--host", DEFAULT_HOST, "--port", port, "--quiet"]
        run.spawn("aws", argv, ready_url=url)
        run.facts["aws"] = f"{url} (embedded moto, serialised for DynamoDB atomicity)"
    os.environ.update(run.env)

    from localdev.tables import create_tables
    from portico.adapters import aws

    names = aws.table_names(run.env)
    created = create_tables(aws.client("dynamodb"), names)
    run.env.update(
        PORTICO_CONFIG_TABLE=names["config"],
        PORTICO_QUOTA_TABLE=names["quota"],
        PORTICO_REGISTRY_TABLE=names["registry"],
    )
    os.environ.update(run.env)
    run.facts["tables"] = ", ".join(names.values()) + (f" ({len(created)} created)" if created else " (existing)")
