"""mTLS for the sidecar and the edge: SSL contexts, peer identity checks, and the rotating identity holder."""
