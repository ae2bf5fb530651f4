"""Certificate sources for the mesh identity: AWS Private CA, exported ACM certificates, files."""
