"""The mesh: the sidecar proxy, its listeners, load balancing and resilience."""
