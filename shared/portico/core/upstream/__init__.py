"""The upstream-call engine, pure: retry vocabulary, per-cluster bookkeeping and the attempt state machine."""
