"""The HTTP API Lambda authorizer: simple responses from the same identity core, deny on every failure."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from portico.adapters.memory import InMemoryConfigStore
from portico.core.auth.jwks_cache import JwksFetcher
from portico.core.config.route import RouteAuth
from portico.core.ports import StoredDocument
from portico.edge.authorizer import Authorizer, AuthorizerSettingsError, policy_from_env
from tests.auth_support import AUDIENCE, ISSUER, RFC7515_A2_RSA, claims, mint, public

KEY = "ptk_test-key-for-the-authorizer"


def _docs() -> list[StoredDocument]:
    issuer = {
        "apiVersion": "portico/v1",
        "kind": "Issuer",
        "metadata": {"name": "corp"},
        "spec": {"issuer": ISSUER, "jwks": {"keys": [public(RFC7515_A2_RSA, kid="a2")]}, "audiences": [AUDIENCE]},
    }
    consumer = {
        "apiVersion": "portico/v1",
        "kind": "Consumer",
        "metadata": {"name": "acme"},
        "spec": {
            "apiKeys": [
                {"id": "k1", "sha256": hashlib.sha256(KEY.encode()).hexdigest()},
                {"id": "k0", "sha256": hashlib.sha256(b"old").hexdigest(), "status": "revoked"},
            ]
        },
    }
    return [StoredDocument("Issuer", "corp", issuer), StoredDocument("Consumer", "acme", consumer)]


def _no_fetch() -> JwksFetcher:
    raise AssertionError("inline keys never fetch")


class _Handle:
    """Runs events through Authorizer.handle (the Lambda path) and closes its event loop afterwards."""

    def __init__(self, policy: dict[str, Any]) -> None:
        self._authorizer = Authorizer(InMemoryConfigStore(_docs()), RouteAuth.model_validate(policy), _no_fetch)

    def handle(self, event: Any) -> dict[str, Any]:
        try:
            return self._authorizer.handle(event)
        finally:
            self._authorizer.close()


def _authorizer(policy: dict[str, Any]) -> _Handle:
    return _Handle(policy)


def _event(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "type": "REQUEST",
        "rawPath": "/orders",
        "headers": headers,
        "requestContext": {"http": {"method": "GET", "path": "/orders"}},
    }


JWT = {"jwt": {"issuers": ["corp"], "scopes": ["orders:read"]}}


def test_valid_token_is_allowed_with_identity_context() -> None:
    token = mint(RFC7515_A2_RSA, {"alg": "RS256", "kid": "a2"}, claims(time.time()))
    result = _authorizer(JWT).handle(_event({"authorization": f"Bearer {token}"}))
    assert result == {
        "isAuthorized": True,
        "context": {"sub": "alice", "consumer": "", "scopes": "orders:read profile", "issuer": "corp"},
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not.a.token"},
        {"authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_missing_or_bad_credentials_are_denied(headers: dict[str, str]) -> None:
    assert _authorizer(JWT).handle(_event(headers)) == {"isAuthorized": False}


def test_missing_scope_is_denied() -> None:
    token = mint(RFC7515_A2_RSA, {"alg": "RS256", "kid": "a2"}, claims(time.time(), scope="profile"))
    assert _authorizer(JWT).handle(_event({"authorization": f"Bearer {token}"}))["isAuthorized"] is False


def test_api_keys_valid_and_revoked() -> None:
    assert _authorizer({"apiKey": {}}).handle(_event({"x-api-key": KEY}))["context"]["consumer"] == "acme"
    assert _authorizer({"apiKey": {}}).handle(_event({"x-api-key": "old"}))["isAuthorized"] is False


def test_malformed_event_is_a_deny_not_an_exception() -> None:
    assert _authorizer(JWT).handle({"headers": "nonsense"}) == {"isAuthorized": False}


@pytest.mark.parametrize("raw", ["", "{", '{"jwt": {}}', '{"jwt": {"issuers": ["a"]}, "none": {}}'])
def test_bad_policy_fails_the_cold_start(raw: str) -> None:
    with pytest.raises(AuthorizerSettingsError):
        policy_from_env({"PORTICO_AUTHORIZER_AUTH": raw})
