"""Edge filters, one per module; `portico.edge.pipeline` assembles them into the chain."""
