"""External authorisation contracts (no sockets): Lambda answer forms, failure modes, cache keys never the token."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from portico.core.auth.decisions import AuthState
from portico.core.auth.external import InvalidDecision, lambda_decision
from portico.core.ports import UpstreamTimeout
from tests.unit.protect.kit import CountingUpstream, pipeline, send

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {{name: guarded}}
spec:
  match: {{pathPrefix: /g}}
  auth: {{external: {{lambda: {{functionName: authz}}, identitySources: [$request.header.authorization,
          $request.querystring.tenant], cacheTtl: 60s, timeout: 200ms, failureMode: {mode}}}}}
  upstream: {{http: {{url: "http://127.0.0.1:9"}}}}
"""


class Invoker:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    async def invoke(self, name: str, qualifier: str | None, payload: dict[str, Any], timeout: float) -> Any:
        self.events.append(payload)
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer == "hang":
            await asyncio.sleep(10)
        return self.answer


def _run(answer: Any, mode: str = "closed", state: AuthState | None = None, times: int = 1) -> tuple[list[int], Any]:
    invoker, upstream = Invoker(answer), CountingUpstream()
    st = state or AuthState()
    handler = pipeline(CONFIG.format(mode=mode), upstream, invoker=lambda: invoker, auth_state=lambda: st)
    headers = [("authorization", "Bearer secret-token")]
    statuses = [
        asyncio.run(send(handler, "GET", "/g/x", headers=headers, query=[("tenant", "t1")])).status
        for _ in range(times)
    ]
    return statuses, (invoker, upstream)


def test_simple_allow_forwards_context_and_is_cached_by_hashed_identity() -> None:
    state = AuthState()
    statuses, (invoker, upstream) = _run(
        {"isAuthorized": True, "context": {"tenant": "t1", "bad key!": "x"}}, state=state, times=3
    )
    assert statuses == [200, 200, 200] and len(invoker.events) == 1
    event = invoker.events[0]
    assert event["type"] == "REQUEST" and event["identitySource"] == ["Bearer secret-token", "t1"]
    assert "body" not in event and event["routeArn"].startswith("arn:aws:execute-api:")
    assert upstream.seen[0].headers.get("x-portico-authz-tenant") == "t1"
    assert not any(n.startswith("x-portico-authz-bad") for n in upstream.seen[0].headers.names())
    assert b"secret-token" not in pickle.dumps(state)


def test_iam_policy_explicit_deny_wins() -> None:
    policy = {
        "principalId": "u",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"},
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"},
            ],
        },
    }
    assert _run(policy)[0] == [403]
    policy["policyDocument"]["Statement"].pop()  # type: ignore[index]
    assert _run(policy)[0] == [200]


@pytest.mark.parametrize("answer", ["nonsense", {"isAuthorized": "yes"}, UpstreamTimeout("slow"), "hang"])
def test_failure_denies_by_default_and_passes_when_open(answer: Any) -> None:
    assert _run(answer)[0] == [403]
    assert _run(answer, mode="open")[0] == [200]


def test_missing_identity_source_is_401_without_a_call() -> None:
    invoker = Invoker({"isAuthorized": True})
    handler = pipeline(CONFIG.format(mode="closed"), CountingUpstream(), invoker=lambda: invoker)
    response = asyncio.run(send(handler, "GET", "/g/x", headers=[("authorization", "Bearer t")]))
    assert response.status == 401 and invoker.events == []


def test_lambda_decision_reads_both_forms_and_refuses_others() -> None:
    assert lambda_decision({"isAuthorized": False}).allowed is False
    with pytest.raises(InvalidDecision):
        lambda_decision({"policyDocument": {"Statement": [{"Effect": "Maybe"}]}})
