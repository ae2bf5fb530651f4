"""Dev component: an AWS endpoint (LocalStack or an earlier run if one answers, else the embedded one) and tables."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from localdev.dev.run import DevRun

DEFAULT_URL = "http://127.0.0.1:4566"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


def endpoint_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def start(run: DevRun) -> None:
    url = run.env.get("AWS_ENDPOINT_URL") or DEFAULT_URL
    if endpoint_answers(url):
        run.facts["aws"] = f"{url} (already running: reused)"
    else:
        port = url.rsplit(":", 1)[-1].rstrip("/")
        run.spawn("aws", [sys.executable, "-m", "localdev.aws", "--host", "127.0.0.1", "--port", port], ready_url=url)
        run.facts["aws"] = f"{url} (embedded, started now)"
    run.env["AWS_ENDPOINT_URL"] = url
    for key, value in LOCAL_CREDENTIALS.items():
        run.env.setdefault(key, value)
    run.env.setdefault("AWS_DEFAULT_REGION", run.env["AWS_REGION"])
    os.environ.update({k: run.env[k] for k in ("AWS_ENDPOINT_URL", *LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION")})

    from localdev.tables import create_tables
    from portico.adapters import aws

    names = aws.table_names(run.env)
    create_tables(aws.client("dynamodb"), names)
    run.env.update(
        PORTICO_CONFIG_TABLE=names["config"],
        PORTICO_QUOTA_TABLE=names["quota"],
        PORTICO_REGISTRY_TABLE=names["registry"],
    )
    os.environ.update({k: v for k, v in run.env.items() if k.startswith("PORTICO_")})
    run.facts["tables"] = ", ".join(names.values())
