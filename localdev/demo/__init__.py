"""Demo services for `portico dev up`, e2e tests and benchmarks."""
