"""Request validation against JSON Schema: schema compilation, OpenAPI operations, and request checking."""
