"""Pure mesh logic: registry model, balancing, weights, outlier detection, retries, circuit breaking, faults."""
