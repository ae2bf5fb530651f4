"""Local development: embedded AWS endpoint, table bootstrap, front door, demo services and benchmarks."""
