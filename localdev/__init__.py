"""Local development: the embedded AWS endpoint, table bootstrap, the front door, demo services and benchmarks."""
