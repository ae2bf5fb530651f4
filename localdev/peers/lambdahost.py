"""The Lambda Invoke API for local functions: POST /2015-03-31/functions/NAME/invocations runs NAME's handler.

Functions are given as NAME=module:function. Point the edge's AWS_ENDPOINT_URL here and the lambda upstream and
the Lambda authorizer invoke these handlers through boto3, exactly as they would on AWS (the embedded moto
endpoint cannot run function code without Docker). A handler that raises answers as Lambda does: 200 with
X-Amz-Function-Error: Unhandled. GET /_calls counts invocations per path.
Run: python -m localdev.peers.lambdahost --function authz=localdev.peers.authz:handler [--port 0]
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from collections.abc import Callable
from typing import Any

from localdev.peers.counting import Answer, serve

_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations")


def load(spec: str) -> tuple[str, Callable[[Any, Any], Any]]:
    name, _, target = spec.partition("=")
    module, _, function = target.partition(":")
    return name, getattr(importlib.import_module(module), function)


def app(functions: dict[str, Callable[[Any, Any], Any]]) -> Callable[[str, str, dict[str, str], bytes], Answer]:
    def invoke(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        found = _INVOKE.match(path)
        name = found.group(1).split(":")[-1] if found else ""
        if method != "POST" or name not in functions:
            error = {"Type": "User", "message": f"Function not found: {name}"}
            return 404, [("x-amzn-errortype", "ResourceNotFoundException")], json.dumps(error).encode()
        try:
            result = functions[name](json.loads(body or b"null"), None)
        except Exception as exc:  # the function's own failure, reported as Lambda reports it
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return 200, [("x-amz-function-error", "Unhandled")], json.dumps(error).encode()
        return 200, [("content-type", "application/json")], json.dumps(result).encode()

    return invoke


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--function", action="append", default=[], help="NAME=module:function")
    args = parser.parse_args()
    serve(app(dict(load(f) for f in args.function)), args.host, args.port, "lambda host")


if __name__ == "__main__":
    main()
