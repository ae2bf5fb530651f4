"""The one AWS Secrets Manager reader: a secret's SecretString by name or ARN, or a clear SecretUnavailable.

Used for the portal's session key and OIDC client secret (adapters/secrets.py) and for token introspection's
client credentials (adapters/client_secrets.py). boto3 is imported on the first read only, so an edge whose
secrets come from the environment never loads the Secrets Manager client. The error names the secret and the
AWS error code, never the value.
"""

from __future__ import annotations

from typing import Any


class SecretUnavailable(Exception):
    """A secret cannot be read (missing, denied, throttled, the service down) or holds no SecretString."""


def secret_string(secret_id: str, client: Any = None, *, timeout: float = 3.0) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        from portico.adapters.aws import client as aws_client

        client = aws_client("secretsmanager", timeout=timeout, retries=2)
    try:
        value = client.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise SecretUnavailable(f"secret {secret_id!r} cannot be read: {code}") from None
    except BotoCoreError as exc:
        raise SecretUnavailable(f"secret {secret_id!r} cannot be read: {type(exc).__name__}") from None
    if not isinstance(value, str):
        raise SecretUnavailable(f"secret {secret_id!r} has no SecretString")
    return value
