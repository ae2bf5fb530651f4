"""Client certificates: a route with `auth.clientCert` needs the certificate API Gateway (or the local front door)
verified, and it must match the route's subject, issuer and SAN lists; otherwise 403.

It runs before authentication: a request without an acceptable certificate is refused before any token is
verified. On a route with no other credential, the certificate is the identity, and its name (first accepted SAN,
or the subject) maps to a Consumer through `subjects`, so quotas can be per certificate holder.
"""

from __future__ import annotations

from collections.abc import Mapping

from portico.core.auth.authenticator import Authenticator
from portico.core.auth.clientcert import CertificateReader, CertificateRefused, cert_name, check
from portico.core.auth.identity import Identity
from portico.core.chain import Context, Handler
from portico.core.config.documents import Route
from portico.core.http import Response
from portico.core.problem import problem
from portico.edge.filters.attrs import AUTH_FAILED, CLIENT_CERT, IDENTITY, ROUTE_NAME


class ClientCertFilter:
    """Present in the chain only when some route has `auth.clientCert`."""

    def __init__(self, routes: Mapping[str, Route], authenticator: Authenticator, reader: CertificateReader) -> None:
        self._routes = {n: r for n, r in routes.items() if r.spec.auth.client_cert is not None}
        self._auth = authenticator
        self._reader = reader

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        route = self._routes.get(ctx.attrs.get(ROUTE_NAME, ""))
        if route is None:
            return await next(ctx)
        rule = route.spec.auth.client_cert
        assert rule is not None
        try:
            cert = ctx.request.client_cert
            if cert is None:
                raise CertificateRefused("this route requires a client certificate (mutual TLS)")
            identity = self._reader.identity(cert)
            check(rule, identity)
        except CertificateRefused as exc:
            ctx.attrs[AUTH_FAILED] = True
            return problem(403, exc.description, request_id=ctx.request_id, extra={"error": exc.error})
        ctx.attrs[CLIENT_CERT] = identity
        if route.spec.auth.credential_free:
            name = cert_name(rule, identity)
            ctx.attrs[IDENTITY] = Identity(
                method="clientCert", sub=name, consumer=self._auth.consumer_of(name), scopes=frozenset()
            )
        return await next(ctx)
