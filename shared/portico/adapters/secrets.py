"""Portal secrets, read once per process: from the environment, or from AWS Secrets Manager by name or ARN.

Never from config: config is readable by every operator and printed by `portico get`.
- the session signing key: PORTICO_PORTAL_SESSION_KEY (at least 32 bytes), or PORTICO_PORTAL_SESSION_SECRET_ID
- the OIDC client secret (confidential clients only): PORTICO_PORTAL_CLIENT_SECRET, or
  PORTICO_PORTAL_CLIENT_SECRET_ID
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from portico.core.portal.session import SessionKeyError, check_key


def _secret_string(secret_id: str) -> str:
    from portico.adapters.secrets_manager import SecretUnavailable, secret_string

    try:
        return secret_string(secret_id)
    except SecretUnavailable as exc:  # the portal answers 503 and logs this; the next request tries again
        raise SessionKeyError(str(exc)) from None


class _Once:
    """Reads a secret on first use and keeps it; a failure is not cached, so the next request tries again."""

    def __init__(self, read: Callable[[], str | None]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._done = False
        self._value: str | None = None

    def __call__(self) -> str | None:
        with self._lock:
            if not self._done:
                self._value = self._read()
                self._done = True
            return self._value


def _from(env: Mapping[str, str], direct: str, secret_id: str) -> Callable[[], str | None]:
    def read() -> str | None:
        if env.get(direct):
            return env[direct]
        if env.get(secret_id):
            return _secret_string(env[secret_id])
        return None

    return _Once(read)


def session_key(env: Mapping[str, str]) -> Callable[[], bytes]:
    read = _from(env, "PORTICO_PORTAL_SESSION_KEY", "PORTICO_PORTAL_SESSION_SECRET_ID")

    def key() -> bytes:
        value = read()
        if value is None:
            raise SessionKeyError(
                "portal sign-in needs a session key: set PORTICO_PORTAL_SESSION_KEY or PORTICO_PORTAL_SESSION_SECRET_ID"
            )
        return check_key(value.encode())

    return key


def client_secret(env: Mapping[str, str]) -> Callable[[], str | None]:
    return _from(env, "PORTICO_PORTAL_CLIENT_SECRET", "PORTICO_PORTAL_CLIENT_SECRET_ID")
