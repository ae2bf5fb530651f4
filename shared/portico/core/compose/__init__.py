"""Pure logic of edge composition: aggregate merging, transforms, cache keys and freshness, versions, deprecation."""
