"""Who is making a control-plane change: the caller's AWS identity, from STS GetCallerIdentity."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from portico.adapters import aws


def caller_identity() -> str:
    """The caller's ARN; if STS cannot say (no credentials, no network), a clear stand-in that names why.

    Recording a change matters more than naming its author perfectly: an unreachable STS never blocks an apply.
    """
    try:
        arn = aws.client("sts", timeout=5.0, retries=2).get_caller_identity().get("Arn")
    except (BotoCoreError, ClientError) as exc:
        return f"unknown (STS GetCallerIdentity failed: {type(exc).__name__})"
    return str(arn) if arn else "unknown (STS returned no ARN)"
