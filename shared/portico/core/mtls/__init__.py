"""Pure mesh identity logic: SPIFFE IDs, AuthorizationPolicy evaluation, certificate rotation and trust bundles."""
