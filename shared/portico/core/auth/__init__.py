"""Pure token and key logic for edge identity: JWS parsing, JWK binding, claim checks, scopes, API-key lookup."""
