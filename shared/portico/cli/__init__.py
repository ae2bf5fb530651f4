"""The `portico` command line."""
