"""Adapters: the I/O behind the core's ports (DynamoDB stores, certificate sources, HTTP transports)."""
