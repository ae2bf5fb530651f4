"""Invokes Lambda functions for the lambda upstream through boto3, off the event loop, with a hard timeout."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from portico.core.ports import UpstreamConnectError, UpstreamTimeout
from portico.core.untrusted import UntrustedInputError, load_json


class BotoLambdaInvoker:
    """boto3 is blocking, so each invoke runs in the default thread pool; the client is created on first use."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _lambda(self) -> Any:
        if self._client is None:
            from portico.adapters.aws import client

            self._client = client("lambda", retries=1)
        return self._client

    def _invoke_sync(self, function_name: str, qualifier: str | None, payload: dict[str, Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"FunctionName": function_name, "Payload": json.dumps(payload).encode()}
        if qualifier:
            kwargs["Qualifier"] = qualifier
        try:
            result = self._lambda().invoke(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise UpstreamConnectError(f"lambda invoke of {function_name} failed: {exc}") from None
        raw = result["Payload"].read()
        if result.get("FunctionError"):
            raise UpstreamConnectError(f"function {function_name} failed ({result['FunctionError']})")
        try:
            return load_json(raw, what=f"the payload of {function_name}") if raw else None
        except UntrustedInputError:
            raise UpstreamConnectError(f"function {function_name} returned a payload that is not JSON") from None

    async def invoke(self, function_name: str, qualifier: str | None, payload: dict[str, Any], timeout: float) -> Any:
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.to_thread(self._invoke_sync, function_name, qualifier, payload)
        except TimeoutError:
            raise UpstreamTimeout(f"function {function_name} did not answer within {timeout:g}s") from None
