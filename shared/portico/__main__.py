"""`python -m portico`: the CLI, for environments without the console script (subprocesses in tests, benchmarks)."""

from portico.cli.launch import run

run()
