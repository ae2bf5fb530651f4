"""The ways authentication and authorisation fail, each carrying its RFC 6750 error code and HTTP status."""

from __future__ import annotations


class AuthError(Exception):
    """Base of every auth failure. `error` is the RFC 6750 error code (empty when none is sent)."""

    status = 401
    error = ""

    def __init__(self, description: str = "") -> None:
        super().__init__(description)
        self.description = description


class MissingCredentials(AuthError):
    """No credentials at all: RFC 6750 §3.1 says answer 401 without an error code."""


class InvalidRequest(AuthError):
    """Malformed credentials (two Authorization fields, a token in the URL, an empty Bearer)."""

    status = 400
    error = "invalid_request"


class InvalidToken(AuthError):
    """The token is malformed, expired, revoked or fails verification: always 401 invalid_token."""

    error = "invalid_token"


class UnknownKey(InvalidToken):
    """No key with the token's `kid` (or none fits its `alg`): the JWKS cache may refetch once, then it is final."""


class InvalidKey(AuthError):
    """An API key that is wrong or revoked: 401 under the ApiKey scheme, with error="invalid_key"."""

    error = "invalid_key"


class InsufficientScope(AuthError):
    """Authenticated but not allowed: 403 insufficient_scope with the scopes the route needs."""

    status = 403
    error = "insufficient_scope"

    def __init__(self, description: str, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.scopes = scopes


class AuthUnavailable(AuthError):
    """The service that decides (introspection endpoint, authoriser) did not answer usably: the request is refused
    (deny by default); the filter answers with the configured status, never letting it through."""

    status = 503
