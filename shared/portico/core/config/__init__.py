"""Config models for every kind Portico accepts, and the loader that validates multi-document YAML."""
