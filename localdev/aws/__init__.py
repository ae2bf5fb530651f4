"""The embedded local AWS endpoint (moto, serialised for atomicity): start, detect, stop, and talk to it.

This package does not import moto; only the server process (`python -m localdev.aws`) does.
"""

from localdev.aws.env import LOCAL_REGION, client, local_env, local_environ
from localdev.aws.process import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LocalAws,
    LocalAwsError,
    endpoint_answers,
    ensure,
    serving,
    start,
    stop,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LOCAL_REGION",
    "LocalAws",
    "LocalAwsError",
    "client",
    "endpoint_answers",
    "ensure",
    "local_env",
    "local_environ",
    "serving",
    "start",
    "stop",
]
