"""`portico usage CONSUMER` reads the consumer's current counters (plan limits with overrides) from the quota table.

Hour and 30-day windows: a window boundary between spending and reading is then vanishingly unlikely.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from typer.testing import CliRunner

from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore
from portico.cli.main import app
from portico.core.quota.limiter import QuotaLimiter
from portico.core.quota.plan import policy_from_spec, with_overrides
from tests.functional.quota.quota_helpers import config

CONFIG = """
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: gold}
spec:
  key: consumer
  limits: [{requests: 10, window: 1h, name: hourly}, {requests: 1000, window: 30d, name: monthly}]
---
apiVersion: portico/v1
kind: Consumer
metadata: {name: acme}
spec:
  plan: gold
  limits: [{requests: 20, window: 1h}]
---
apiVersion: portico/v1
kind: Consumer
metadata: {name: nobody}
spec: {}
"""


def test_usage_shows_used_and_remaining_per_limit(
    tables: dict[str, str], quota_store: DynamoDbQuotaStore, tmp_path: Path
) -> None:
    cli = CliRunner()
    path = tmp_path / "plans.yaml"
    path.write_text(CONFIG)
    assert cli.invoke(app, ["apply", "-f", str(path)]).exit_code == 0
    cfg = config(CONFIG)
    policy = with_overrides(
        policy_from_spec("gold", cfg.rate_limit_policies["gold"].spec), cfg.consumers["acme"].spec.limits or []
    )
    limiter = QuotaLimiter(quota_store)

    async def spend() -> None:
        for _ in range(3):
            await limiter.check(policy, "consumer:acme", time.time())

    asyncio.run(spend())
    result = cli.invoke(app, ["usage", "acme", "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["limit"]: row for row in json.loads(result.output)}
    assert (rows["hourly"]["used"], rows["hourly"]["requests"], rows["hourly"]["remaining"]) == (3, 20, 17)
    assert (rows["monthly"]["used"], rows["monthly"]["remaining"]) == (3, 997)
    assert 1 <= rows["monthly"]["resets_in"] <= 30 * 86400
    table = cli.invoke(app, ["usage", "acme"])
    assert table.exit_code == 0 and "monthly" in table.output and "997" in table.output
    missing = cli.invoke(app, ["usage", "nobody"])
    assert missing.exit_code == 1 and "has no plan" in missing.output
