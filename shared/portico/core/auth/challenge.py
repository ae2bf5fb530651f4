"""Auth failures as responses: RFC 9457 problem bodies with RFC 6750 `WWW-Authenticate` challenges."""

from __future__ import annotations

import re

from portico.core.auth.errors import AuthError, InsufficientScope
from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.problem import problem

# RFC 6750 §3: error_description and scope values may hold only these characters
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _quoted(value: str) -> str:
    return '"' + _UNSAFE.sub("?", value) + '"'


def challenge(scheme: str, realm: str, error: AuthError, *, header: str | None = None) -> str:
    """`Bearer realm="...", error="...", error_description="...", scope="..."`; no error params without credentials."""
    params = [f"realm={_quoted(realm)}"]
    if header is not None:  # the ApiKey scheme names where the key goes
        params.append(f"header={_quoted(header)}")
    if error.error:
        params.append(f"error={_quoted(error.error)}")
        if error.description:
            params.append(f"error_description={_quoted(error.description)}")
    if isinstance(error, InsufficientScope) and error.scopes:
        params.append(f"scope={_quoted(' '.join(error.scopes))}")
    return f"{scheme} " + ", ".join(params)


def auth_response(
    error: AuthError, *, scheme: str = "Bearer", realm: str = "portico", header: str | None = None, request_id: str = ""
) -> Response:
    """400, 401 or 403 as the error says; never a 5xx, whatever went wrong with the credentials."""
    headers = Headers([("www-authenticate", challenge(scheme, realm, error, header=header))])
    extra = {"error": error.error} if error.error else None
    detail = error.description or "authentication required"
    return problem(error.status, detail, request_id=request_id or None, headers=headers, extra=extra)
