"""Request validation: the route's JSON Schemas for path parameters, query, headers and body; 400 with every
violation and its JSON Pointer, so the upstream never sees a request its contract refuses.

It runs after authorisation (an anonymous caller learns nothing of the schema) and before the rate limit (a
refusal costs no quota write). Each route's schemas are compiled the first time the route is validated in a
config version and kept with the filter, which lives exactly as long as that version. Response validation
(`validate.response`) only logs: it is for staging, and never changes what the client gets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from portico.core.chain import Context, Handler
from portico.core.config.documents import Route
from portico.core.http import Response
from portico.core.problem import problem
from portico.core.validation.request import RequestValidator, is_json
from portico.core.validation.schemas import Violation
from portico.edge.filters.attrs import PATH_PARAMS, ROUTE_NAME

log = logging.getLogger("portico.edge.validation")


class ValidationFilter:
    def __init__(self, routes: Mapping[str, Route]) -> None:
        self._specs = {name: r.spec.validate_ for name, r in routes.items() if r.spec.validate_ is not None}
        self._compiled: dict[str, RequestValidator] = {}

    def _validator(self, name: str) -> RequestValidator:
        found = self._compiled.get(name)
        if found is None:  # the schema libraries are imported here, on a validated route's first request
            found = self._compiled[name] = RequestValidator(self._specs[name])
        return found

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        name = ctx.attrs.get(ROUTE_NAME, "")
        if name not in self._specs:
            return await next(ctx)
        validator = self._validator(name)
        request = ctx.request
        violations = validator.check(ctx.attrs.get(PATH_PARAMS, {}), request.query, request.headers, request.body)
        if violations:
            count = len(violations)
            return problem(
                400,
                f"the request does not match the route's schema ({count} violation{'s' if count > 1 else ''})",
                request_id=ctx.request_id,
                extra={"errors": [v.as_json() for v in violations]},
            )
        response = await next(ctx)
        if validator.response is not None and 200 <= response.status < 300:
            _log_response_violations(ctx, name, validator, response)
        return response


def _log_response_violations(ctx: Context, route: str, validator: RequestValidator, response: Response) -> None:
    assert validator.response is not None
    if not is_json(response.content_type):
        found = [Violation("body", "", "the response is not JSON")]
    else:
        document = validator.parse(response.body)
        found = [document] if isinstance(document, Violation) else validator.response.errors(document, "body")
    if found:
        log.warning(
            "response does not match the schema",
            extra={"route": route, "request_id": ctx.request_id, "errors": [v.as_json() for v in found]},
        )
