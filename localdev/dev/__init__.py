"""`portico dev up`: the local stack, assembled from one component module per part."""
