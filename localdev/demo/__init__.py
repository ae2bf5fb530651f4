"""Demo services for `portico dev up` (front door and mesh), e2e tests and benchmarks."""
