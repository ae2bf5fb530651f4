"""Client credentials for token introspection: from environment variables or an AWS Secrets Manager secret.

Config names where the credentials are, never the credentials. A secret is a JSON object with `clientId` and
`clientSecret`; it is read on first use and kept for five minutes, so a rotation is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from portico.core.auth.errors import AuthUnavailable
from portico.core.config.protection import ClientCredentials
from portico.core.untrusted import UntrustedInputError, load_json

SECRET_TTL = 300.0


class ClientSecrets:
    """Implements portico.edge.introspect.CredentialSource; `env` and `client` are injectable for tests."""

    def __init__(self, env: Mapping[str, str] | None = None, client: Any = None) -> None:
        self._env = os.environ if env is None else env
        self._client = client
        self._secrets: dict[str, tuple[float, tuple[str, str]]] = {}

    async def credentials(self, spec: ClientCredentials, now: float) -> tuple[str, str]:
        if spec.client_id_env is not None and spec.client_secret_env is not None:
            client_id, secret = self._env.get(spec.client_id_env), self._env.get(spec.client_secret_env)
            if not client_id or not secret:
                raise AuthUnavailable(f"{spec.client_id_env} and {spec.client_secret_env} must be set")
            return client_id, secret
        assert spec.secret_id is not None  # ClientCredentials holds env names or a secret id
        cached = self._secrets.get(spec.secret_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        pair = await asyncio.to_thread(self._read_secret, spec.secret_id)
        self._secrets[spec.secret_id] = (now + SECRET_TTL, pair)
        return pair

    def _read_secret(self, secret_id: str) -> tuple[str, str]:
        from portico.adapters.secrets_manager import SecretUnavailable, secret_string

        if self._client is None:  # one client for the process's re-reads (every SECRET_TTL)
            from portico.adapters.aws import client

            self._client = client("secretsmanager", timeout=2.0, retries=2)
        try:
            value = load_json(secret_string(secret_id, self._client, timeout=2.0), what="the secret", max_bytes=65536)
        except (SecretUnavailable, UntrustedInputError) as exc:
            raise AuthUnavailable(f"secret {secret_id} cannot be read: {exc}") from None
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("clientId", "clientSecret")):
            raise AuthUnavailable(f"secret {secret_id} must be a JSON object with clientId and clientSecret")
        return value["clientId"], value["clientSecret"]
